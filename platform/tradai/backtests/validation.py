"""Semantic checks of a submission against the strategy registry.

The schema (``models.BacktestRequest``) has already passed; here the strategy and the chosen
version must exist, and fields left out are filled from the version's tags, so the queued job
is exactly what was validated (an alias may move later; the resolved version is pinned).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tradai.backtests.errors import DependencyUnavailable, InvalidSubmission
from tradai.backtests.models import TIMEFRAMES, BacktestRequest
from tradai.registry.models import (
    InvalidStrategyVersion,
    StrategyDetail,
    StrategyNotFound,
    StrategySummary,
    StrategyVersion,
)

T = TypeVar("T")


class StrategyRegistry(Protocol):
    """What the backend reads from the registry (``tradai.registry.MLflowAdapter``)."""

    def list_strategies(self) -> list[StrategySummary]: ...

    def get_strategy(self, name: str) -> StrategyDetail: ...

    def get_model_version(self, name: str, alias_or_version: str | int) -> StrategyVersion: ...


@dataclass(frozen=True)
class ResolvedBacktest:
    """A validated job: the request plus what the registry filled in."""

    strategy: str
    version: int
    alias: str | None
    pairs: list[str]
    timeframe: str
    timerange: str | None
    strategy_class: str
    config_s3_path: str
    mode: str = "backtest"
    epochs: int | None = None  # hyperopt only

    def as_message(self) -> dict[str, object]:
        message: dict[str, object] = {
            "strategy": self.strategy, "version": self.version, "alias": self.alias,
            "pairs": self.pairs, "timeframe": self.timeframe, "timerange": self.timerange,
            "strategy_class": self.strategy_class, "config_s3_path": self.config_s3_path,
            "mode": self.mode}
        if self.epochs is not None:
            message["epochs"] = self.epochs
        return message


def resolve(request: BacktestRequest, registry: StrategyRegistry,
            max_pairs: int) -> ResolvedBacktest:
    """Raise ``InvalidSubmission`` naming the field at fault, or return the job to queue."""
    if request.pairs is not None and len(request.pairs) > max_pairs:
        raise InvalidSubmission("pairs", f"at most {max_pairs} pairs per backtest, "
                                         f"got {len(request.pairs)}")
    version = _version(request, registry)
    pairs = request.pairs or list(version.pairs)
    if not pairs:
        raise InvalidSubmission("pairs", "no pairs given and the strategy version has none")
    if len(pairs) > max_pairs:
        raise InvalidSubmission("pairs", f"the version's {len(pairs)} pairs exceed the "
                                         f"maximum of {max_pairs}; give fewer pairs")
    timeframe = request.timeframe or version.timeframe
    if timeframe not in TIMEFRAMES:
        raise InvalidSubmission("timeframe", f"the version's timeframe {timeframe!r} is not "
                                             f"supported; give one of {', '.join(TIMEFRAMES)}")
    return ResolvedBacktest(
        strategy=request.strategy, version=version.version, alias=request.alias, pairs=pairs,
        timeframe=timeframe, timerange=request.timerange,
        strategy_class=version.strategy_class, config_s3_path=version.config_s3_path,
        mode=request.mode or "backtest", epochs=request.epochs)


def _version(request: BacktestRequest, registry: StrategyRegistry) -> StrategyVersion:
    # One registry call on the happy path; a second only to say which field is wrong.
    ref: str | int | None = request.alias if request.alias is not None else request.version
    try:
        if ref is None:
            latest = _call(registry.get_strategy, request.strategy).latest_version
            if latest is None:
                raise InvalidSubmission("strategy",
                                        f"strategy {request.strategy!r} has no versions")
            ref = latest
        return _call(registry.get_model_version, request.strategy, ref)
    except StrategyNotFound as exc:
        try:
            _call(registry.get_strategy, request.strategy)
        except StrategyNotFound:
            raise InvalidSubmission("strategy",
                                    f"unknown strategy {request.strategy!r}") from None
        field = "alias" if request.alias is not None else "version"
        raise InvalidSubmission(field, f"strategy {request.strategy!r} has no {field} "
                                       f"{ref!r} ({exc})") from None


def _call(fn: Callable[..., T], *args: Any) -> T:
    """Registry failures other than "not found" mean it is unavailable, not that the
    request is wrong."""
    try:
        return fn(*args)
    except (StrategyNotFound, InvalidSubmission):
        raise
    except InvalidStrategyVersion as exc:
        raise InvalidSubmission(exc.field or "strategy", str(exc)) from exc
    except Exception as exc:
        raise DependencyUnavailable("strategy registry unavailable", exc) from exc
