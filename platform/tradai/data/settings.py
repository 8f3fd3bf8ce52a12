"""What the data layer reads from its environment: where ArcticDB lives, which exchange and
how to reach it, and the limits of a request."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.settings import deployed


class DataSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # -- storage ------------------------------------------------------------------------------
    # An explicit URI wins (lmdb://..., s3://..., s3s://...); else it is built from the rest.
    arcticdb_uri: str | None = Field(default=None, validation_alias="TRADAI_ARCTICDB_URI")
    arcticdb_bucket: str | None = deployed("TRADAI_BUCKET_ARCTICDB")
    arcticdb_library: str = Field(default="ohlcv", validation_alias="TRADAI_ARCTICDB_LIBRARY")
    arcticdb_path_prefix: str | None = Field(default=None,
                                             validation_alias="TRADAI_ARCTICDB_PATH_PREFIX")
    # S3 is what it is used for: the S3-specific endpoint wins, as botocore has it.
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"))
    aws_region: str = Field(default="eu-central-1",
                            validation_alias=AliasChoices("AWS_DEFAULT_REGION", "AWS_REGION"))
    aws_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(default=None,
                                              validation_alias="AWS_SECRET_ACCESS_KEY")

    # -- exchange -----------------------------------------------------------------------------
    exchange_id: str = Field(default="binance", validation_alias="TRADAI_EXCHANGE")
    # Where "binance" really is: the simulator locally, unset for the real exchange.
    exchange_url: str | None = Field(default=None, validation_alias="TRADAI_EXCHANGE_URL")
    # Egress proxy (the NAT model): CCXT's httpProxy, the one option both CCXT clients honour.
    egress_proxy: str | None = Field(default=None, validation_alias="TRADAI_EGRESS_PROXY")
    exchange_timeout_ms: int = Field(default=10_000, ge=100,
                                     validation_alias="TRADAI_EXCHANGE_TIMEOUT_MS")
    # CCXT's throttle between requests (None: CCXT's own, 50 ms for binance).
    exchange_rate_limit_ms: float | None = Field(default=None, ge=0,
                                                 validation_alias="TRADAI_EXCHANGE_RATE_LIMIT_MS")
    page_limit: int = Field(default=1000, ge=1, le=1000, validation_alias="TRADAI_EXCHANGE_PAGE")
    # Backoff on 429 / 5xx / network errors (wall seconds: these are socket-level waits and
    # the exchange's Retry-After is already in wall seconds).
    retry_max_attempts: int = Field(default=6, ge=1, validation_alias="TRADAI_EXCHANGE_RETRIES")
    retry_base_s: float = Field(default=0.5, ge=0, validation_alias="TRADAI_EXCHANGE_BACKOFF_S")
    retry_cap_s: float = Field(default=8.0, ge=0, validation_alias="TRADAI_EXCHANGE_BACKOFF_CAP_S")
    markets_ttl_s: float = Field(default=3600.0, ge=0,
                                 validation_alias="TRADAI_EXCHANGE_MARKETS_TTL_S")

    # -- requests -----------------------------------------------------------------------------
    max_candles: int = Field(default=600_000, ge=1, validation_alias="TRADAI_DATA_MAX_CANDLES")
    # Fresh while the newest stored candle is at most this many closed candles behind.
    max_lag_candles: int = Field(default=1, ge=0, validation_alias="TRADAI_DATA_MAX_LAG_CANDLES")
    # Gaps listed per series in a freshness answer (the count is always complete).
    max_gaps_listed: int = Field(default=50, ge=0, validation_alias="TRADAI_DATA_MAX_GAPS")
