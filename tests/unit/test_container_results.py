"""Metrics from Freqtrade's stats (a recorded run of EmaCrossover, 2 pairs x 14 days of 5m on
the simulator, seed 42), as the job item and MLflow get them."""

from __future__ import annotations

import math

import numpy as np

from tradai.backtests.models import BacktestResult
from tradai.backtests.results import HEADLINE, headline, metrics, win_rate

# generate_strategy_stats' keys and value types as freqtrade 2026.9 produced them.
RECORDED = {
    "total_trades": 91, "profit_total": np.float64(-0.00419131036),
    "profit_total_abs": np.float64(-4.191310359999999),
    "max_drawdown_account": np.float64(0.015127017215626367),
    "max_relative_drawdown": np.float64(0.015127017215626367),
    "max_drawdown_abs": np.float64(15.13330272), "wins": 35, "losses": 56, "draws": 0,
    "winrate": 0.38461538461538464, "profit_mean": np.float64(-0.00046034372162568287),
    "profit_factor": np.float64(0.8551510508517148), "sharpe": -7.060871853805435,
    "sortino": -16.817655302211993, "calmar": -40.719234004941704, "cagr": -0.11123854107977837,
    "expectancy": np.float64(-0.04605835560439564), "sqn": np.float64(-0.5009),
    "trades_per_day": 7.0, "starting_balance": 1000, "final_balance": 995.80868964,
    "market_change": 0.07638008900933735, "backtest_days": 13, "holding_avg_s": 7020.0,
    "max_consecutive_wins": 4, "max_consecutive_losses": 7, "strategy_name": "EmaCrossover",
    "timeframe": "5m", "timerange": "20260101-20260115", "trades": [{"pair": "BTC/USDT"}],
}


def test_headline_has_the_contract_fields_with_freqtrade_values() -> None:
    h = headline(RECORDED)
    assert set(HEADLINE) <= set(h)
    assert h["total_trades"] == 91 and isinstance(h["total_trades"], int)
    assert h["profit_total"] == RECORDED["profit_total"]
    assert h["max_drawdown"] == RECORDED["max_drawdown_account"]
    assert h["win_rate"] == RECORDED["winrate"] == 35 / 91
    assert h["profit_total_abs"] == RECORDED["profit_total_abs"]
    assert (h["wins"], h["losses"], h["draws"]) == (35, 56, 0)
    # The backend's contract model reads it as it is.
    assert BacktestResult.model_validate(h).total_trades == 91


def test_metrics_are_finite_floats_and_skip_text_and_lists() -> None:
    m = metrics(RECORDED)
    assert all(isinstance(v, float) and math.isfinite(v) for v in m.values())
    assert m["sharpe"] == RECORDED["sharpe"] and m["calmar"] == RECORDED["calmar"]
    assert "strategy_name" not in m and "trades" not in m
    assert m["max_drawdown"] == RECORDED["max_drawdown_account"]


def test_drawdown_falls_back_to_older_key_names() -> None:
    assert headline({"max_relative_drawdown": 0.2})["max_drawdown"] == 0.2
    assert headline({"max_drawdown": 0.3})["max_drawdown"] == 0.3


def test_win_rate_from_counts_when_freqtrade_gives_no_winrate() -> None:
    assert win_rate({"wins": np.int64(3), "losses": 1, "draws": 0}) == 0.75
    assert win_rate({"wins": 0, "losses": 0}) == 0.0
    assert win_rate({}) is None


def test_no_trades_still_answers_the_contract_and_drops_nan() -> None:
    h = headline({"total_trades": 0, "profit_total": 0.0, "sharpe": float("nan"),
                  "sortino": float("inf")})
    assert h == {"total_trades": 0, "profit_total": 0.0, "max_drawdown": 0.0, "win_rate": 0.0}
