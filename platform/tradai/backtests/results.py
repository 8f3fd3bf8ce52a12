"""A backtest's result as the platform shows it: metrics taken from Freqtrade's stats.

``headline`` gives the four fields of the status contract (``total_trades``, ``profit_total``,
``max_drawdown``, ``win_rate``) plus a few more; ``metrics`` gives every finite number worth
logging to MLflow. Both read one strategy's entry of Freqtrade's results
(``results["strategy"][name]``, built by ``generate_strategy_stats``; hyperopt keeps the same
dict as an epoch's ``results_metrics``). Freqtrade is not imported: the stats are plain data.

Key names (freqtrade 2026.9, ``optimize/optimize_reports/optimize_reports.py``):
``total_trades``, ``profit_total`` (a ratio: 0.05 is +5 %), ``profit_total_abs`` (stake
currency), ``max_drawdown_account`` (ratio of the account at its peak; older releases only
had ``max_relative_drawdown`` / ``max_drawdown``), ``wins`` / ``losses`` / ``draws`` and
``winrate``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

HEADLINE = ("total_trades", "profit_total", "max_drawdown", "win_rate")
# Platform name -> Freqtrade's key(s), first present wins.
_SOURCES: dict[str, tuple[str, ...]] = {
    "total_trades": ("total_trades",),
    "profit_total": ("profit_total",),
    "profit_total_abs": ("profit_total_abs",),
    "max_drawdown": ("max_drawdown_account", "max_relative_drawdown", "max_drawdown"),
    "max_drawdown_abs": ("max_drawdown_abs",),
    "wins": ("wins",),
    "losses": ("losses",),
    "draws": ("draws",),
    "profit_mean": ("profit_mean",),
    "profit_factor": ("profit_factor",),
    "sharpe": ("sharpe",),
    "sortino": ("sortino",),
    "calmar": ("calmar",),
    "cagr": ("cagr",),
    "expectancy": ("expectancy",),
    "expectancy_ratio": ("expectancy_ratio",),
    "sqn": ("sqn",),
    "trades_per_day": ("trades_per_day",),
    "starting_balance": ("starting_balance",),
    "final_balance": ("final_balance",),
    "market_change": ("market_change",),
    "backtest_days": ("backtest_days",),
    "holding_avg_s": ("holding_avg_s",),
    "max_consecutive_wins": ("max_consecutive_wins",),
    "max_consecutive_losses": ("max_consecutive_losses",),
}
# What the job item's ``result`` map carries besides the headline (keep it small: the item is
# read on every status poll).
SUMMARY = (*HEADLINE, "profit_total_abs", "wins", "losses", "draws", "sharpe", "sortino",
           "profit_factor", "final_balance", "backtest_days")


def metrics(stats: Mapping[str, Any]) -> dict[str, float]:
    """Every finite numeric metric under the platform's names."""
    out: dict[str, float] = {}
    for name, keys in _SOURCES.items():
        value = _first_number(stats, keys)
        if value is not None:
            out[name] = value
    rate = win_rate(stats)
    if rate is not None:
        out["win_rate"] = rate
    return out


def headline(stats: Mapping[str, Any]) -> dict[str, float | int]:
    """The job item's ``result``: the contract's four fields always (0 when no trade ran)."""
    found = metrics(stats)
    out: dict[str, float | int] = {k: found[k] for k in SUMMARY if k in found}
    out.setdefault("total_trades", 0)
    out["total_trades"] = int(out["total_trades"])
    for key in ("profit_total", "max_drawdown", "win_rate"):
        out.setdefault(key, 0.0)
    for key in ("wins", "losses", "draws"):
        if key in out:
            out[key] = int(out[key])
    return out


def win_rate(stats: Mapping[str, Any]) -> float | None:
    """Freqtrade's ``winrate`` (wins / all trades), else computed from the counts."""
    rate = _number(stats.get("winrate"))
    if rate is not None:
        return rate
    wins, losses, draws = (_number(stats.get(k)) for k in ("wins", "losses", "draws"))
    if wins is None or losses is None:
        return None
    total = wins + losses + (draws or 0)
    return wins / total if total else 0.0


def _first_number(stats: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = _number(stats.get(key))
        if value is not None:
            return value
    return None


def _number(value: Any) -> float | None:
    # numbers.Real: Freqtrade hands numpy scalars too (np.int64 is no ``int``).
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
