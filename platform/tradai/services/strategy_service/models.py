"""Request and response bodies: the service's contract, as the OpenAPI document shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tradai.config.schema import STRATEGY_NAME, FieldError, StrategyConfig
from tradai.registry.models import StrategyVersion

MAX_SOURCE_BYTES = 200_000


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was not found or is unavailable, and why")


class ValidationErrorResponse(BaseModel):
    detail: list[FieldError]


class ValidateRequest(BaseModel):
    config: StrategyConfig = Field(description="the Freqtrade config to check")


class ValidationReport(BaseModel):
    valid: bool
    strategy: str
    timeframe: str
    pairs: list[str]


class PrepareRequest(BaseModel):
    strategy: str = Field(min_length=1, max_length=100, description="registered strategy name")
    version: str | int = Field(default="latest",
                               description="alias (champion), version number, or 'latest'")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="runtime settings merged last (deep merge; null removes a key)")


class PreparedConfig(BaseModel):
    strategy: str
    version: int
    strategy_class: str
    config_s3_path: str
    config: dict[str, Any] = Field(description="the merged, runnable Freqtrade config")


class RegisterRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="registered model name")
    strategy_class: str | None = Field(
        default=None, pattern=STRATEGY_NAME,
        description="IStrategy class; defaults to config.strategy")
    config: StrategyConfig
    source_code: str | None = Field(
        default=None, max_length=MAX_SOURCE_BYTES,
        description="the strategy's Python source; omit for a class the service ships")
    description: str | None = Field(default=None, max_length=2000)
    warmup_days: int = Field(default=30, ge=0, le=3650)
    aliases: list[str] = Field(default_factory=list, max_length=10)


class RegisterResponse(StrategyVersion):
    pass
