"""The comparison's rule: promote the challenger only if it beats the champion by ``margin`` on
every configured metric, both backtested on the same window.

The margin is absolute, in the metric's own unit (``profit_total`` is a ratio: 0.01 is one
percentage point of profit): a relative margin over a champion's profit near zero would let
noise decide. ``max_drawdown`` is better lower; every other known metric higher. A metric
missing from either result keeps the champion (nothing to compare is no evidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LOWER_IS_BETTER = frozenset({"max_drawdown", "max_drawdown_abs", "max_drawdown_account"})
KNOWN_METRICS = frozenset({"profit_total", "profit_total_abs", "win_rate", "total_trades",
                           "sharpe", "sortino", "calmar", "profit_factor"}) | LOWER_IS_BETTER


class InvalidRule(ValueError):
    pass


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    deltas: dict[str, float] = field(default_factory=dict)  # challenger - champion per metric

    def as_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason, "deltas": self.deltas}


def check_rule(metrics: Sequence[str], margin: float) -> None:
    if not metrics:
        raise InvalidRule("no metrics to compare on")
    unknown = sorted(set(metrics) - KNOWN_METRICS)
    if unknown:
        raise InvalidRule(f"unknown metrics {unknown}; use some of {sorted(KNOWN_METRICS)}")
    if not isinstance(margin, int | float) or math.isnan(margin):
        raise InvalidRule(f"margin must be a number, got {margin!r}")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def decide(champion: Mapping[str, Any], challenger: Mapping[str, Any],
           metrics: Sequence[str], margin: float) -> Decision:
    check_rule(metrics, margin)
    deltas: dict[str, float] = {}
    short: list[str] = []
    for metric in metrics:
        old, new = _number(champion.get(metric)), _number(challenger.get(metric))
        if old is None or new is None:
            side = "champion" if old is None else "challenger"
            return Decision(False, f"kept the champion: the {side}'s backtest has no {metric}",
                            deltas)
        gain = (old - new) if metric in LOWER_IS_BETTER else (new - old)
        deltas[metric] = round(new - old, 10)
        if not gain > margin:
            short.append(f"{metric} {new:g} vs {old:g} (needs a gain over {margin:g}, "
                         f"got {gain:g})")
    if short:
        return Decision(False, "kept the champion: " + "; ".join(short), deltas)
    return Decision(True, "the challenger beats the champion by more than "
                    f"{margin:g} on " + ", ".join(metrics), deltas)
