"""The subset of a Freqtrade config that the platform reads and checks.

Unknown keys are kept (``extra="allow"``): Freqtrade has many settings the platform passes
through untouched. Errors come out as (field path, reason) pairs a user can act on.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# A class name only: Freqtrade treats "Name:base64" as inline source code to execute.
STRATEGY_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
PAIR = r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$"
TIMEFRAME = re.compile(r"^[1-9][0-9]{0,2}[smhdwM]$")

Pair = Annotated[str, Field(pattern=PAIR, description="BASE/QUOTE, e.g. BTC/USDT")]


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the offending field, e.g. exchange.name")
    reason: str


class ExchangeSection(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(default="binance", min_length=1)
    pair_whitelist: list[Pair] = Field(min_length=1, max_length=200)
    pair_blacklist: list[str] = Field(default_factory=list)
    ccxt_config: dict[str, Any] = Field(default_factory=dict)


class StrategyConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    strategy: str = Field(pattern=STRATEGY_NAME, description="the IStrategy class name")
    timeframe: str = Field(description="candle size, e.g. 5m")
    stake_currency: str = Field(default="USDT", pattern=r"^[A-Z0-9]{1,20}$")
    stake_amount: float | Literal["unlimited"] = 100
    max_open_trades: int = Field(default=3, ge=-1)
    dry_run: bool = True
    trading_mode: Literal["spot"] = "spot"
    minimal_roi: dict[str, float] | None = None
    stoploss: float | None = Field(default=None, ge=-1, lt=0)
    exchange: ExchangeSection

    @field_validator("timeframe")
    @classmethod
    def _timeframe_shape(cls, value: str) -> str:
        if not TIMEFRAME.match(value):
            raise ValueError(f"{value!r} is not a timeframe (e.g. 1m, 5m, 1h, 1d)")
        return value

    @field_validator("stake_amount")
    @classmethod
    def _positive_stake(cls, value: float | str) -> float | str:
        if isinstance(value, float) and value <= 0:
            raise ValueError("must be > 0 or 'unlimited'")
        return value

    @model_validator(mode="after")
    def _pairs_in_stake_currency(self) -> StrategyConfig:
        # Freqtrade trades only pairs quoted in the stake currency.
        wrong = [p for p in self.exchange.pair_whitelist
                 if p.split("/")[1] != self.stake_currency]
        if wrong:
            raise ValueError(f"exchange.pair_whitelist: {', '.join(wrong)} not quoted in "
                             f"stake_currency {self.stake_currency}")
        return self


def field_path(loc: tuple[int | str, ...]) -> str:
    """("exchange", "pair_whitelist", 1) -> "exchange.pair_whitelist[1]"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def schema_errors(config: Any, prefix: str = "") -> list[FieldError]:
    """Problems with the config's shape; empty when it parses."""
    try:
        StrategyConfig.model_validate(config)
    except ValidationError as exc:
        return [to_field_error(err, prefix) for err in exc.errors()]
    return []


def to_field_error(err: Any, prefix: str = "") -> FieldError:
    """A pydantic error as (field path, reason)."""
    path = field_path(tuple(err["loc"]))
    reason = str(err["msg"]).removeprefix("Value error, ")
    if not path and reason.startswith("exchange.pair_whitelist:"):  # the model validator
        path, reason = "exchange.pair_whitelist", reason.split(": ", 1)[1]
    full = ".".join(p for p in (prefix, path) if p) or "config"
    return FieldError(field=full, reason=reason)
