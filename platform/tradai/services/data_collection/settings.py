"""What the data collection task reads from its environment (beyond :class:`DataSettings`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tradai.data.keys import normalise_pair
from tradai.data.sync import SyncConfig


def _csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # ECS (and the local runtime) assign the port; 8002 is the spec's container port.
    port: int = Field(default=8002, validation_alias="PORT")
    # Local tasks share one host, so loopback by default; a container sets 0.0.0.0.
    host: str = Field(default="127.0.0.1", validation_alias="TRADAI_BIND_HOST")
    job_workers: int = Field(default=2, ge=1, validation_alias="TRADAI_DATA_JOB_WORKERS")
    # Longest a POST /ensure may block (wait_seconds); the proxy Lambda has 180 s.
    max_wait_s: float = Field(default=170.0, ge=0, validation_alias="TRADAI_DATA_MAX_WAIT_S")

    sync_enabled: bool = Field(default=True, validation_alias="TRADAI_SYNC_ENABLED")
    sync_pairs: Annotated[tuple[str, ...], NoDecode] = Field(default=("BTC/USDT", "ETH/USDT"),
                                        validation_alias="TRADAI_SYNC_PAIRS")
    sync_timeframes: Annotated[tuple[str, ...], NoDecode] = Field(default=("5m",),
                                             validation_alias="TRADAI_SYNC_TIMEFRAMES")
    sync_interval_s: float = Field(default=60.0, gt=0,
                                   validation_alias="TRADAI_SYNC_INTERVAL_SECONDS")
    sync_lookback_s: float = Field(default=86_400.0, ge=0,
                                   validation_alias="TRADAI_SYNC_LOOKBACK_SECONDS")
    sync_include_stored: bool = Field(default=True, validation_alias="TRADAI_SYNC_STORED")

    _split = field_validator("sync_pairs", "sync_timeframes", mode="before")(_csv)

    def sync_config(self, max_catchup_candles: int = 600_000) -> SyncConfig:
        pairs = tuple(normalise_pair(p) for p in self.sync_pairs)
        return SyncConfig(pairs, self.sync_timeframes, self.sync_interval_s,
                          self.sync_lookback_s, self.sync_include_stored, max_catchup_candles)
