"""The trading-session contract of the API: what a caller sends and what it reads back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Mode = Literal["dry-run", "live"]  # tradai.trading.records.MODES


class SessionRequest(BaseModel):
    """Start a session: a strategy, the alias it follows or a pinned version, and the mode."""

    model_config = ConfigDict(extra="forbid")

    strategy: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")
    alias: str | None = Field(default=None, min_length=1, max_length=64,
                              description="Follow this alias (e.g. champion): moving it "
                                          "hot-swaps the running version")
    version: int | None = Field(default=None, ge=1, description="Run this version only")
    mode: Mode

    @model_validator(mode="after")
    def _one_ref(self) -> SessionRequest:
        if (self.alias is None) == (self.version is None):
            raise ValueError("give the alias to follow or the version to run (one of them)")
        return self

    @property
    def ref(self) -> str:
        """What the container's STRATEGY_STAGE says: the alias, or the version as text."""
        return self.alias if self.alias is not None else str(self.version)


class TradingSession(BaseModel):
    """One session as listed: status, the version it runs, its last heartbeat, its results."""

    session_id: str
    strategy: str
    ref: str = Field(description="The alias it follows, or its pinned version as text")
    mode: Mode
    status: str = Field(description="STARTING, RUNNING, STALE, STOPPING, STOPPED or FAILED")
    version: int | None = Field(default=None, description="The version it runs (heartbeat)")
    last_heartbeat: float | None = Field(default=None, description="epoch seconds")
    heartbeat_age_seconds: float | None = None
    last_candle: str | None = None
    open_trades: int | None = None
    profit_abs: float | None = None
    profit_pct: float | None = None
    capacity_provider: str | None = None
    service_name: str | None = None
    created_at: float | None = None
    stopped_at: float | None = None
    stopped_by: str | None = None
    error: str | None = None
    stale_since: float | None = None


class TradingSessionDetail(TradingSession):
    """One session in full: with its recent trades."""

    recent_trades: list[dict[str, Any]] = Field(default_factory=list)
    loop_latency_ms: float | None = None
    task_arn: str | None = None
    heartbeats: int | None = None
    task_definition_arn: str | None = None


class SessionList(BaseModel):
    sessions: list[TradingSession]
