"""Where the registry lives: the MLflow URL and the configs bucket come from settings."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.registry.models import RegistryUnavailable
from tradai.settings import deployed


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # A stable URL that routes to a healthy MLflow task (ALB / service discovery).
    mlflow_url: str | None = deployed("TRADAI_MLFLOW_URL")
    configs_bucket: str | None = deployed("TRADAI_BUCKET_CONFIGS")

    def require_mlflow_url(self) -> str:
        if not self.mlflow_url:
            raise RegistryUnavailable(
                "TRADAI_MLFLOW_URL is not set: the registry needs the MLflow service's URL")
        return self.mlflow_url.rstrip("/")

    def require_configs_bucket(self) -> str:
        if not self.configs_bucket:
            raise RegistryUnavailable(
                "TRADAI_BUCKET_CONFIGS is not set: strategy configs live in the configs bucket")
        return self.configs_bucket
