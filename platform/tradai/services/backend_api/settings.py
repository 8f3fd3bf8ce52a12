"""The backend's configuration: everything comes from the task definition's environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.settings import deployed
from tradai.topology import default_topology


def _spec_ttl_days() -> int:
    return default_topology().table("workflow-state").ttl_days or 30


class BackendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    host: str = Field(default="127.0.0.1", validation_alias="TRADAI_BIND_HOST")
    port: int = Field(default=8000, validation_alias="PORT")
    queue_url: str | None = deployed("TRADAI_QUEUE_BACKTEST_QUEUE")
    table: str | None = deployed("TRADAI_TABLE_WORKFLOW_STATE")
    mlflow_url: str | None = deployed("TRADAI_MLFLOW_URL")
    data_collection_url: str | None = deployed("TRADAI_DATA_COLLECTION_URL")
    strategy_service_url: str | None = deployed("TRADAI_STRATEGY_SERVICE_URL")
    audit_table: str | None = deployed("TRADAI_TABLE_REGISTRY_AUDIT")
    # The model lifecycle: retraining runs (listed, queued by an operator) and drift states.
    retraining_table: str | None = deployed("TRADAI_TABLE_RETRAINING_STATE")
    retraining_queue_url: str | None = deployed("TRADAI_QUEUE_RETRAINING_QUEUE")
    drift_table: str | None = deployed("TRADAI_TABLE_DRIFT_STATE")
    max_pairs: int = Field(default=20, ge=1, le=100, validation_alias=AliasChoices(
        "TRADAI_BACKTEST_MAX_PAIRS", "max_pairs"))
    ttl_days: int = Field(default_factory=_spec_ttl_days, ge=1,
                          validation_alias="TRADAI_WORKFLOW_TTL_DAYS")
    upstream_timeout: float = Field(default=10.0, gt=0,
                                    validation_alias="TRADAI_UPSTREAM_TIMEOUT")
    registry_cache_seconds: float = Field(default=5.0, ge=0,
                                          validation_alias="TRADAI_REGISTRY_CACHE_SECONDS")


@lru_cache(maxsize=1)
def backend_settings() -> BackendSettings:
    return BackendSettings()
