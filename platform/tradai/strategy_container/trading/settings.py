"""What a trading session's container reads from its environment.

The session itself is three variables the platform adds to the session's task definition
(``STRATEGY_NAME``, ``STRATEGY_STAGE``, ``TRADING_MODE``); everything else is the deployment's
configuration every strategy task has (tables, buckets, the registry, the exchange).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.settings import deployed
from tradai.trading.records import MODES, session_id


class TradingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    strategy: str | None = Field(default=None, validation_alias="STRATEGY_NAME")
    # An alias ("champion") or a version number: what the session follows.
    stage: str | None = Field(default=None, validation_alias="STRATEGY_STAGE")
    mode: str | None = Field(default=None, validation_alias="TRADING_MODE")

    table: str | None = deployed("TRADAI_TABLE_TRADING_HEARTBEATS")
    # Freqtrade's trade database between tasks of the session (a replacement resumes from it).
    state_bucket: str | None = deployed("TRADAI_BUCKET_RESULTS")
    configs_bucket: str | None = deployed("TRADAI_BUCKET_CONFIGS")
    mlflow_url: str | None = deployed("TRADAI_MLFLOW_URL")
    exchange_url: str | None = Field(default=None, validation_alias="TRADAI_EXCHANGE_URL")
    egress_proxy: str | None = Field(default=None, validation_alias="TRADAI_EGRESS_PROXY")
    exchange_secret: str | None = Field(default=None,
                                        validation_alias="TRADAI_SECRET_EXCHANGE_CREDENTIALS")
    work_dir: str | None = Field(default=None, validation_alias="TRADAI_WORK_DIR")
    ttl_days: int = Field(default=7, validation_alias="TRADAI_TRADING_TTL_DAYS")

    @property
    def session_id(self) -> str:
        assert self.strategy and self.mode
        return session_id(self.strategy, self.mode)

    def problems(self) -> list[str]:
        """What is missing or wrong, each naming the variable."""
        out = []
        if not self.strategy:
            out.append("STRATEGY_NAME is not set")
        if not self.stage:
            out.append("STRATEGY_STAGE is not set (an alias such as champion, or a version)")
        if self.mode not in MODES:
            out.append(f"TRADING_MODE must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.table:
            out.append("TRADAI_TABLE_TRADING_HEARTBEATS is not set: heartbeats go there")
        if not self.mlflow_url:
            out.append("TRADAI_MLFLOW_URL is not set: the version comes from the registry")
        if not self.configs_bucket:
            out.append("TRADAI_BUCKET_CONFIGS is not set: strategy configs live there")
        if self.mode == "live" and not self.exchange_secret:
            out.append("TRADAI_SECRET_EXCHANGE_CREDENTIALS is not set: live mode needs keys")
        return out

    @property
    def stage_ref(self) -> str | int:
        assert self.stage
        return int(self.stage) if self.stage.isdigit() else self.stage
