"""Request and response bodies of the data collection API (they make its OpenAPI schema)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from tradai.data.keys import normalise_pair
from tradai.data.timeframes import UnknownTimeframe, timeframe_ms


def utc(dt: datetime) -> datetime:
    """Naive datetimes are UTC (the only zone candles have)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def ms(dt: datetime) -> int:
    return int(utc(dt).timestamp() * 1000)


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def check_pairs(pairs: list[str]) -> list[str]:
    out = [normalise_pair(p) for p in pairs]
    return list(dict.fromkeys(out))  # keep order, drop repeats


def check_timeframe(value: str) -> str:
    try:
        timeframe_ms(value)
    except UnknownTimeframe as exc:
        raise ValueError(str(exc)) from exc
    return value


class EnsureRequest(BaseModel):
    """Make sure candles ``start..end`` (open times, inclusive) are stored for each pair."""

    pairs: list[str] = Field(min_length=1, max_length=50, examples=[["BTC/USDT", "ETH/USDT"]])
    timeframe: str = Field(examples=["5m"])
    start: datetime = Field(description="first candle's open time (UTC; ISO 8601 or epoch)")
    end: datetime | None = Field(default=None, description="last candle's open time; default "
                                 "now. Clamped to the newest closed candle.")
    exchange: str | None = Field(default=None, description="default: the service's exchange")
    wait_seconds: float = Field(default=0.0, ge=0, description="block up to this long for the "
                                "job to finish (200 when it did, 202 when still running)")

    _pairs = field_validator("pairs")(check_pairs)
    _tf = field_validator("timeframe")(check_timeframe)


class SeriesProgressView(BaseModel):
    symbol: str
    pair: str
    requested: int = Field(description="candles in the range")
    missing_before: int | None = Field(description="candles not stored when the job began")
    written: int
    pages: int = Field(description="exchange pages fetched")
    unavailable: int = Field(description="candles the exchange does not have")
    missing_after: int | None
    done: bool


class JobError(BaseModel):
    error: str = Field(examples=["exchange_unavailable"])
    exchange: str | None = None
    reason: str | None = None
    pairs: list[str] | None = None


class JobView(BaseModel):
    job_id: str
    status: str = Field(description="queued | running | succeeded | failed")
    exchange: str
    timeframe: str
    start: datetime
    end: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    requested: int
    written: int
    missing_before: int | None
    series: list[SeriesProgressView]
    error: JobError | None


class Gap(BaseModel):
    start: datetime = Field(description="open time of the first missing candle")
    end: datetime = Field(description="open time of the last missing candle")
    candles: int


class SeriesFreshness(BaseModel):
    symbol: str
    pair: str
    timeframe: str
    verdict: str = Field(description="fresh | stale | missing")
    first_candle: datetime | None
    last_candle: datetime | None = Field(description="open time of the newest stored candle")
    expected_last_candle: datetime = Field(description="open time of the newest closed candle")
    rows: int
    age_seconds: float | None = Field(description="since the newest stored candle closed")
    max_age_seconds: float
    lag_candles: int | None
    gap_count: int
    missing_candles: int = Field(description="missing between the first and last candle")
    gaps: list[Gap] = Field(description="the first gaps (TRADAI_DATA_MAX_GAPS)")


class FreshnessReport(BaseModel):
    exchange: str
    now: datetime = Field(description="the shared clock's now")
    series: list[SeriesFreshness]


class StoredSeries(BaseModel):
    symbol: str
    exchange: str
    pair: str
    timeframe: str
    first_candle: datetime
    last_candle: datetime
    rows: int


class Metadata(BaseModel):
    exchange: str
    store: str = Field(description="ArcticDB location, secrets redacted")
    library: str
    series: list[StoredSeries]


class SyncRequest(BaseModel):
    pairs: list[str] | None = Field(default=None, description="default: every sync target")
    timeframes: list[str] | None = None

    _pairs = field_validator("pairs")(lambda v: None if v is None else check_pairs(v))
    _tfs = field_validator("timeframes")(
        lambda v: None if v is None else [check_timeframe(t) for t in v])


class SyncOutcomeView(BaseModel):
    symbol: str
    written: int
    start: datetime | None
    end: datetime | None
    error: str | None


class SyncStatusView(BaseModel):
    enabled: bool
    interval_seconds: float
    pairs: list[str]
    timeframes: list[str]
    include_stored: bool
    ticks: int
    last_tick: datetime | None
    errors: int
    last_outcomes: list[SyncOutcomeView]


class Health(BaseModel):
    status: str
    exchange: str
    exchange_url: str | None
    store: str
    jobs_running: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)
