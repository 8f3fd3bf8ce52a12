"""What the container reads from its task environment (task definition + RunTask overrides)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.settings import deployed


class ContainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    job_id: str | None = Field(default=None, validation_alias="TRADAI_JOB_ID")
    mode: str | None = Field(default=None, validation_alias="TRADAI_MODE")
    table: str | None = deployed("TRADAI_TABLE_WORKFLOW_STATE")
    results_bucket: str | None = deployed("TRADAI_BUCKET_RESULTS")
    configs_bucket: str | None = deployed("TRADAI_BUCKET_CONFIGS")
    mlflow_url: str | None = deployed("TRADAI_MLFLOW_URL")
    # What a user's browser can open (the gateway's /mlflow route); the internal URL otherwise.
    mlflow_public_url: str | None = Field(default=None,
                                          validation_alias="TRADAI_MLFLOW_PUBLIC_URL")
    exchange_url: str | None = Field(default=None, validation_alias="TRADAI_EXCHANGE_URL")
    # This task's way to the internet (its subnet's NAT, locally); unset on AWS.
    egress_proxy: str | None = Field(default=None, validation_alias="TRADAI_EGRESS_PROXY")
    # Scratch space for Freqtrade's user_data (feather files, hyperopt results).
    work_dir: str | None = Field(default=None, validation_alias="TRADAI_WORK_DIR")
    # Kept after the run for inspection (default: removed).
    keep_work_dir: bool = Field(default=False, validation_alias="TRADAI_KEEP_WORK_DIR")

    def mlflow_ui_base(self) -> str | None:
        url = self.mlflow_public_url or self.mlflow_url
        return url.rstrip("/") if url else None
