"""What the strategy service reads from its environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.settings import deployed
from tradai.strategies import STRATEGIES_DIR


class StrategyServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    port: int = Field(default=8003, validation_alias="PORT")
    host: str = Field(default="127.0.0.1", validation_alias="TRADAI_BIND_HOST")
    mlflow_url: str | None = deployed("TRADAI_MLFLOW_URL")
    configs_bucket: str | None = deployed("TRADAI_BUCKET_CONFIGS")
    # A Binance-compatible server (the local exchange simulator); Binance itself when unset.
    exchange_url: str | None = Field(default=None, validation_alias="TRADAI_EXCHANGE_URL")
    # This task's way to the internet (its subnet's NAT, locally); unset on AWS.
    egress_proxy: str | None = Field(default=None, validation_alias="TRADAI_EGRESS_PROXY")
    markets_ttl_seconds: float = Field(default=300.0, validation_alias="TRADAI_MARKETS_TTL")
    strategies_dir: Path = Field(default=STRATEGIES_DIR, validation_alias="TRADAI_STRATEGIES_DIR")
