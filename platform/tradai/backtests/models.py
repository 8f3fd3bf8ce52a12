"""The submission contract (issue 6): what a client sends and what it reads back."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Freqtrade / Binance candle sizes.
TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
              "1d", "3d", "1w", "1M")
PAIR_PATTERN = re.compile(r"^[A-Z0-9]{2,15}/[A-Z0-9]{2,15}$")
TIMERANGE_PATTERN = re.compile(r"^(\d{8})-(\d{8})$")
# Absolute bound of the schema; the deployment's configured maximum (settings) is lower or equal.
PAIRS_HARD_LIMIT = 100


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # by its owner (DELETE /api/v1/backtests/{job_id}): final


class BacktestRequest(BaseModel):
    """``POST /api/v1/backtests``. Left-out fields come from the strategy version's tags."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "strategy": "SmaCross", "alias": "champion", "pairs": ["BTC/USDT", "ETH/USDT"],
        "timeframe": "5m", "timerange": "20240101-20240401"}]})

    strategy: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$",
                          description="Registered strategy (MLflow registered model) name")
    alias: str | None = Field(default=None, min_length=1, max_length=64,
                              pattern=r"^[A-Za-z0-9_\-]+$",
                              description="Version alias, e.g. champion; exclusive with version")
    version: int | None = Field(default=None, ge=1, le=1_000_000,
                                description="Version number; exclusive with alias")
    pairs: list[str] | None = Field(default=None, min_length=1, max_length=PAIRS_HARD_LIMIT,
                                    description="Pairs such as BTC/USDT")
    timeframe: str | None = Field(default=None, description=f"One of {', '.join(TIMEFRAMES)}")
    timerange: str | None = Field(default=None, description="Freqtrade's YYYYMMDD-YYYYMMDD")
    mode: Literal["backtest", "hyperopt"] | None = Field(
        default=None, description="What the strategy container runs (default backtest)")
    epochs: int | None = Field(default=None, ge=1, le=1000,
                               description="Hyperopt epochs (hyperopt only; default 20)")

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, pairs: list[str] | None) -> list[str] | None:
        if pairs is None:
            return None
        bad = [p for p in pairs if not PAIR_PATTERN.match(p)]
        if bad:
            raise ValueError(f"pairs must look like BASE/QUOTE in capitals, got {bad[:3]}")
        if len(set(pairs)) != len(pairs):
            raise ValueError("pairs must not repeat")
        return pairs

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, tf: str | None) -> str | None:
        if tf is not None and tf not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {tf!r}; use one of {', '.join(TIMEFRAMES)}")
        return tf

    @field_validator("timerange")
    @classmethod
    def _timerange(cls, tr: str | None) -> str | None:
        if tr is None:
            return None
        m = TIMERANGE_PATTERN.match(tr)
        if not m:
            raise ValueError("timerange must be YYYYMMDD-YYYYMMDD")
        start, end = (_parse_day(s) for s in m.groups())
        if start >= end:
            raise ValueError("timerange is inverted or empty: the start must be before the end")
        return tr

    @model_validator(mode="after")
    def _alias_or_version(self) -> BacktestRequest:
        if self.alias is not None and self.version is not None:
            raise ValueError("give alias or version, not both")
        if self.epochs is not None and self.mode != "hyperopt":
            raise ValueError("epochs applies to mode hyperopt only")
        return self

    def canonical(self) -> dict[str, Any]:
        """The request as content: pair order does not change what runs."""
        body = self.model_dump(exclude_none=True)
        if "pairs" in body:
            body["pairs"] = sorted(body["pairs"])
        return body


def _parse_day(text: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ValueError(f"timerange date {text} is not a calendar date") from None


class BacktestTicket(BaseModel):
    """The answer to a submission: the ticket is also the job id."""

    ticket_id: str
    job_id: str
    status: JobStatus = JobStatus.QUEUED
    duplicate: bool = Field(default=False,
                            description="True when an earlier identical submission answered")


class BacktestResult(BaseModel):
    """Headline metrics of a completed backtest (more fields may follow)."""

    model_config = ConfigDict(extra="allow")

    total_trades: int | None = None
    profit_total: float | None = None
    max_drawdown: float | None = None
    win_rate: float | None = None


class JobEventKind(StrEnum):
    START_FAILED = "start-failed"  # could not be started; its message went to the DLQ
    REPLAYED = "replayed"  # its message came back (DLQ redrive): queued again
    RUNNING = "running"  # the workflow runs it
    COMPLETED = "completed"
    FAILED = "failed"  # it ran (or failed validation) and failed: final
    CANCELLED = "cancelled"  # its owner cancelled it: final


class JobEvent(BaseModel):
    """One step of a job's history, oldest first."""

    at: str = Field(description="When (ISO 8601, UTC)")
    event: JobEventKind
    detail: str | None = Field(default=None, description="The reason or where it came from")


class BacktestStatus(BaseModel):
    """``GET /api/v1/backtests/{job_id}`` (pattern 3)."""

    job_id: str
    status: JobStatus
    progress: float = Field(ge=0, le=100, description="Percent done")
    strategy: str
    version: int | None = None
    request: dict[str, Any]
    created_at: str
    updated_at: str | None = None
    result: BacktestResult | None = None
    error: str | None = None
    mlflow_url: str | None = None
    cancelled_by: str | None = Field(default=None, description="Who cancelled it (CANCELLED)")
    cancelled_at: str | None = Field(default=None, description="When (ISO 8601, UTC)")
    events: list[JobEvent] = Field(default_factory=list,
                                   description="The job's history: start failures, replays "
                                               "from the dead-letter queue, run, outcome")
    timings: dict[str, float] = Field(
        default_factory=dict,
        description="Seconds per stage so far, in order: queue, validation, data, task_start, "
                    "preparation, freqtrade, publishing, completion; then total (submitted "
                    "to finished). A stage not reached yet is absent")


class CancelledBacktests(BaseModel):
    """``DELETE /api/v1/backtests?status=QUEUED``: the caller's queued jobs it cancelled."""

    cancelled: int
    job_ids: list[str]


class BacktestList(BaseModel):
    backtests: list[BacktestStatus]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for more")
