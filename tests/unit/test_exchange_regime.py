"""A regime change injected into the exchange simulator (the drift-retrain drill's fault):
history before it is untouched, the path is continuous at it, moves after it are scaled and
drifted as asked, every pair follows (cross pairs through their legs), and the admin endpoint
refuses bad input with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from tests.unit.test_exchange_api import FakeClock
from tradai_sim.exchange.app import ExchangeApp
from tradai_sim.exchange.intervals import INTERVAL_MS
from tradai_sim.exchange.market import DAY_MS, Market, RegimeChange

NOW_MS = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)
SINCE_MS = int(datetime(2026, 5, 20, 7, 13, tzinfo=UTC).timestamp() * 1000)  # mid-day, on a minute
FIVE = INTERVAL_MS["5m"]


def _closes(m: Market, pair: str, first_ms: int, count: int, interval: str = "1m") -> np.ndarray:
    return np.asarray(m.candles(pair, interval, first_ms, count, NOW_MS).close, dtype=float)


def test_history_before_the_change_is_untouched_and_the_path_is_continuous() -> None:
    plain, changed = Market(42), Market(42)
    changed.set_regime_change(RegimeChange(SINCE_MS, volatility=3.0, drift_per_day=-0.01))
    first = SINCE_MS - 2 * DAY_MS
    n_before = (SINCE_MS - first) // 60_000
    a, b = _closes(plain, "BTC/USDT", first, n_before + 600), _closes(
        changed, "BTC/USDT", first, n_before + 600)
    assert np.array_equal(a[:n_before], b[:n_before])  # every candle before it, to the tick
    assert not np.allclose(a[n_before:], b[n_before:])
    # The first changed minute opens on the last unchanged close.
    c = changed.candles("BTC/USDT", "1m", SINCE_MS, 1, NOW_MS)
    assert float(c.open[0]) == b[n_before - 1]
    # Daily opens after the change are the previous day's changed close (no gap at midnight).
    midnight = SINCE_MS - SINCE_MS % DAY_MS + DAY_MS
    around = changed.candles("BTC/USDT", "1m", midnight - 60_000, 2, NOW_MS)
    assert float(around.open[1]) == float(around.close[0])


def test_moves_after_the_change_are_scaled_and_drifted_as_asked() -> None:
    first = SINCE_MS - SINCE_MS % DAY_MS + DAY_MS  # whole days after the change
    n = 5 * 1440

    def log_returns(m: Market) -> np.ndarray:
        return np.diff(np.log(_closes(m, "ETH/USDT", first, n)))

    plain, changed = Market(7), Market(7)
    changed.set_regime_change(RegimeChange(SINCE_MS, volatility=3.0, drift_per_day=-0.02))
    r0, r1 = log_returns(plain), log_returns(changed)
    # Tick rounding aside, each minute's move is 3x the seeded one plus the drift's share.
    assert np.allclose(r1, 3.0 * r0 - 0.02 / 1440, atol=5e-5)
    assert 2.9 < r1.std() / r0.std() < 3.1
    # Volume follows the busier regime.
    vol = [float(m.candles("ETH/USDT", "1d", first, 5, NOW_MS).volume.sum()) for m in (plain,
                                                                                       changed)]
    assert vol[1] > 1.5 * vol[0]


def test_cross_pairs_follow_their_legs_and_removing_the_change_restores_the_seeded_path() -> None:
    m = Market(3)
    first = SINCE_MS + DAY_MS - (SINCE_MS + DAY_MS) % FIVE
    before = _closes(m, "ETH/BTC", first, 100, "5m")
    m.set_regime_change(RegimeChange(SINCE_MS, volatility=2.0))
    eth, btc, cross = (m.candles(p, "5m", first, 100, NOW_MS) for p in (
        "ETH/USDT", "BTC/USDT", "ETH/BTC"))
    ratio = np.asarray(eth.close, dtype=float) / np.asarray(btc.close, dtype=float)
    assert np.allclose(np.asarray(cross.close, dtype=float), ratio, rtol=1e-3)
    assert not np.allclose(np.asarray(cross.close, dtype=float), before, rtol=1e-4)
    m.set_regime_change(None)
    assert np.array_equal(_closes(m, "ETH/BTC", first, 100, "5m"), before)


def test_a_daily_volatility_sets_each_days_moves_whatever_the_seeded_regime() -> None:
    """The seeded market has calm and turbulent days; under ``daily_volatility`` every day's
    log return has that standard deviation, so the new regime does not depend on the date."""
    m = Market(42)
    first = SINCE_MS - SINCE_MS % DAY_MS + DAY_MS
    n_days = 60
    plain = np.asarray(m.candles("BTC/USDT", "1d", first, n_days, NOW_MS + 90 * DAY_MS).close,
                       dtype=float)
    m.set_regime_change(RegimeChange(SINCE_MS, daily_volatility=0.08))
    changed = np.asarray(m.candles("BTC/USDT", "1d", first, n_days, NOW_MS + 90 * DAY_MS).close,
                         dtype=float)
    seeded_sd, changed_sd = np.diff(np.log(plain)).std(), np.diff(np.log(changed)).std()
    assert abs(changed_sd - 0.08) < 0.02, changed_sd  # 59 draws of N(0, 0.08)
    assert abs(seeded_sd - 0.08) > 0.03  # the seeded path was far from it
    # Intraday: minute moves of a day are scaled by one factor (the day's shape is kept).
    r0 = np.diff(np.log(_closes(Market(42), "BTC/USDT", first + DAY_MS, 1440)))
    r1 = np.diff(np.log(_closes(m, "BTC/USDT", first + DAY_MS, 1440)))
    ratio = np.median(r1[r0 != 0] / r0[r0 != 0])
    assert np.allclose(r1, ratio * r0, atol=5e-5)


def test_the_same_change_gives_the_same_candles_whatever_was_asked_first() -> None:
    change = RegimeChange(SINCE_MS, volatility=2.5, drift_per_day=0.01)
    a, b = Market(42), Market(42)
    a.set_regime_change(change)
    b.set_regime_change(change)
    late = SINCE_MS + 3 * DAY_MS - (SINCE_MS + 3 * DAY_MS) % FIVE
    _closes(b, "BTC/USDT", late, 50, "5m")  # b generates a later day first
    early = SINCE_MS - SINCE_MS % FIVE
    assert np.array_equal(_closes(a, "BTC/USDT", early, 2000, "5m"),
                          _closes(b, "BTC/USDT", early, 2000, "5m"))


@pytest.mark.parametrize(("body", "why"), [
    ({"volatility": 3.0}, "since_ms"),
    ({"since_ms": SINCE_MS + 1, "volatility": 3.0}, "minute boundary"),
    ({"since_ms": 0, "volatility": 3.0}, "2020-01-01"),
    ({"since_ms": SINCE_MS, "volatility": 0}, "volatility"),
    ({"since_ms": SINCE_MS, "volatility": 3.0, "drift_per_day": 5}, "drift_per_day"),
    ({"since_ms": "soon", "volatility": 3.0}, "integer"),
    ({"since_ms": SINCE_MS, "volatility": 3.0, "colour": "red"}, "colour"),
    ({"since_ms": SINCE_MS, "daily_volatility": 2.0}, "daily_volatility"),
    ({"since_ms": SINCE_MS, "volatility": 2.0, "daily_volatility": 0.1}, "not both"),
    ([1, 2], "JSON object"),
])
def test_the_admin_endpoint_refuses_bad_input_with_a_reason(body: object, why: str) -> None:
    app = ExchangeApp(Market(1), FakeClock())  # type: ignore[arg-type]
    r = app.handle("POST", "/_admin/regime", {}, {}, json.dumps(body).encode())
    assert r.status == 400 and why in json.loads(r.body)["error"]
    assert app.market.regime_change is None


def test_the_admin_endpoint_sets_shows_and_removes_the_change() -> None:
    app = ExchangeApp(Market(1), FakeClock())  # type: ignore[arg-type]
    body = {"since_ms": SINCE_MS, "volatility": 1.0, "drift_per_day": -0.01,
            "daily_volatility": 0.08}
    r = app.handle("POST", "/_admin/regime", {}, {}, json.dumps(body).encode())
    assert r.status == 200 and json.loads(r.body) == {"regime_change": body}
    assert json.loads(app.handle("GET", "/_admin/regime", {}, {}).body) == {"regime_change": body}
    app.handle("POST", "/_admin/reset", {}, {})  # faults are reset, the market is not
    assert app.market.regime_change == RegimeChange(**body)
    gone = app.handle("DELETE", "/_admin/regime", {}, {})
    assert json.loads(gone.body) == {"regime_change": None}
    assert app.handle("PUT", "/_admin/regime", {}, {}).status == 405
