"""The registry's contract: what services and Lambdas read about a strategy.

A strategy is an MLflow registered model; a version carries the tags of the architecture
document (timeframe, pairs, warmup_days, config_s3_path); stages are aliases
(``champion``, ``challenger``, ``production``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class StrategyVersion(BaseModel):
    name: str
    version: int
    aliases: list[str] = Field(default_factory=list)
    timeframe: str
    pairs: list[str]
    warmup_days: int
    config_s3_path: str
    strategy_class: str
    run_id: str | None = None
    created_at: float | None = None  # epoch seconds
    tags: dict[str, str] = Field(default_factory=dict)


class StrategySummary(BaseModel):
    name: str
    description: str | None = None
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict)  # alias -> version


class StrategyDetail(StrategySummary):
    versions: list[StrategyVersion] = Field(default_factory=list)


class StrategyNotFound(LookupError):
    """No such strategy, version or alias; the message names which."""


class RegistryUnavailable(RuntimeError):
    """The registry (MLflow) or the config store cannot be reached or is not configured."""


class InvalidStrategyVersion(ValueError):
    """A request names a strategy, version or alias in a form the registry cannot take;
    ``field`` says which input was wrong when it is known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
