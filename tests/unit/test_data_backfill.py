"""Backfill and the exchange gateway against fakes (LMDB store): only missing candles are
fetched, a crash mid-way resumes without duplicates, exchange errors become clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pytest

from tradai.data.backfill import Backfiller
from tradai.data.exchange import ExchangeGateway, ExchangeUnavailable, UnknownPair
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai.data.validation import CandleRange

M5 = 300_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
KEY = SeriesKey("binance", "BTC/USDT", "5m")


def candle(t: int) -> list[float]:
    p = float(t // M5 % 10_000)
    return [t, p, p + 2, p - 1, p + 1, 1.0]


class FakeSource:
    """A Binance-like pager: up to ``limit`` candles from ``since``; history starts at
    ``listed_ms``; optionally fails after ``fail_after`` calls (a crash mid-backfill)."""

    exchange_id = "binance"

    def __init__(self, listed_ms: int = 0, fail_after: int | None = None,
                 holes: set[int] | None = None) -> None:
        self.listed_ms = listed_ms
        self.fail_after = fail_after
        self.holes = holes or set()
        self.calls: list[tuple[int, int]] = []

    def fetch_ohlcv(self, pair: str, timeframe: str, since_ms: int,
                    limit: int) -> list[list[float]]:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ExchangeUnavailable("binance", "crash")
        self.calls.append((since_ms, limit))
        t = max(since_ms, self.listed_ms)
        t += -t % M5
        out = []
        while len(out) < limit:
            if t not in self.holes:
                out.append(candle(t))
            t += M5
        return out


@pytest.fixture()
def store(tmp_path: Path) -> OhlcvStore:
    return OhlcvStore(f"lmdb://{tmp_path / 'db'}", "ohlcv")


def rng(first: int, count: int) -> CandleRange:
    return CandleRange(T0 + first * M5, T0 + (first + count - 1) * M5, M5)


def expected(first: int, count: int) -> np.ndarray:
    return T0 + (first + np.arange(count, dtype=np.int64)) * M5


def test_cold_backfill_paginates_and_stores_everything(store: OhlcvStore) -> None:
    src = FakeSource()
    pages: list[int] = []
    result = Backfiller(store, src, page_limit=100).ensure(
        KEY, rng(0, 250), on_page=lambda k, n: pages.append(n))
    assert result.complete and result.written == 250 and result.missing_before == 250
    assert pages == [100, 100, 50] and [c[1] for c in src.calls] == [100, 100, 50]
    assert np.array_equal(store.open_times(KEY), expected(0, 250))


def test_only_missing_candles_are_fetched(store: OhlcvStore) -> None:
    bf = Backfiller(store, FakeSource(), page_limit=100)
    bf.ensure(KEY, rng(50, 50))
    src = FakeSource()
    result = Backfiller(store, src, page_limit=100).ensure(KEY, rng(0, 150))
    assert result.missing_before == 100 and result.written == 100
    assert src.calls == [(T0, 50), (T0 + 100 * M5, 50)]
    assert np.array_equal(store.open_times(KEY), expected(0, 150))
    again = FakeSource()
    assert Backfiller(store, again).ensure(KEY, rng(0, 150)).written == 0
    assert again.calls == []


def test_crash_mid_way_resumes_with_fewer_calls_and_same_result(store: OhlcvStore) -> None:
    crashing = FakeSource(fail_after=3)
    with pytest.raises(ExchangeUnavailable):
        Backfiller(store, crashing, page_limit=100).ensure(KEY, rng(0, 1000))
    assert len(store.open_times(KEY)) == 300  # three pages made it to the store
    resumed = FakeSource()
    result = Backfiller(store, resumed, page_limit=100).ensure(KEY, rng(0, 1000))
    assert result.written == 700 and len(resumed.calls) == 7
    assert resumed.calls[0][0] == T0 + 300 * M5  # continues after the stored pages
    assert np.array_equal(store.open_times(KEY), expected(0, 1000))
    cold_store = OhlcvStore(store.uri, "cold")
    cold = FakeSource()
    Backfiller(cold_store, cold, page_limit=100).ensure(KEY, rng(0, 1000))
    assert len(resumed.calls) < len(cold.calls) == 10
    assert store.read(KEY).equals(cold_store.read(KEY))


def test_candles_before_listing_and_exchange_holes_are_unavailable(store: OhlcvStore) -> None:
    src = FakeSource(listed_ms=T0 + 20 * M5, holes={T0 + 30 * M5})
    result = Backfiller(store, src, page_limit=100).ensure(KEY, rng(0, 50))
    assert result.written == 29 and result.unavailable == 21 and result.complete
    # asking again costs one call per hole, and stores nothing twice
    again = Backfiller(store, FakeSource(listed_ms=T0 + 20 * M5, holes={T0 + 30 * M5}))
    assert again.ensure(KEY, rng(0, 50)).written == 0


def test_stop_event_cancels_between_pages(store: OhlcvStore) -> None:
    import threading

    stop = threading.Event()
    bf = Backfiller(store, FakeSource(), page_limit=100)
    result = bf.ensure(KEY, rng(0, 500), on_page=lambda k, n: stop.set(), stop=stop)
    assert result.cancelled and result.written == 100 and not result.complete


# -- the gateway over a fake CCXT client ------------------------------------------------------


class FakeClient:
    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.last_response_headers: dict[str, str] = {}
        self.markets: dict[str, Any] = {}

    def load_markets(self, reload: bool = False) -> dict[str, Any]:
        return {"BTC/USDT": {"symbol": "BTC/USDT"}, "ETH/USDT": {"symbol": "ETH/USDT"}}

    def set_markets(self, markets: list[Any]) -> None:
        self.markets = {m["symbol"]: m for m in markets}

    def fetch_ohlcv(self, pair: str, timeframe: str, since: int, limit: int) -> Any:
        if pair not in self.markets:
            raise ccxt.BadSymbol(f"binance does not have market symbol {pair}")
        step = self.script.pop(0)
        rate_limited = isinstance(step, ccxt.RateLimitExceeded)
        self.last_response_headers = {"Retry-After": "3"} if rate_limited else {}
        if isinstance(step, Exception):
            raise step
        return step


def gateway(script: list[Any], slept: list[float], attempts: int = 4) -> ExchangeGateway:
    s = DataSettings(TRADAI_EXCHANGE_RETRIES=attempts, TRADAI_EXCHANGE_BACKOFF_S=0.25,
                     TRADAI_EXCHANGE_BACKOFF_CAP_S=1)  # type: ignore[call-arg]
    return ExchangeGateway(s, client_factory=lambda _: FakeClient(script), sleep=slept.append)


def test_gateway_backs_off_on_429_and_5xx() -> None:
    slept: list[float] = []
    page = [candle(T0)]
    gw = gateway([ccxt.RateLimitExceeded("429"), ccxt.ExchangeNotAvailable("503"), page], slept)
    assert gw.fetch_ohlcv("BTC/USDT", "5m", T0, 1) == page
    assert slept == [3.0, 0.5]  # Retry-After (3 s) beats the 0.25 s backoff, then 0.5 s
    assert gw.requests == 4 and gw.retries == 2  # markets + three candle attempts


def test_gateway_gives_up_with_exchange_unavailable_naming_the_exchange() -> None:
    slept: list[float] = []
    gw = gateway([ccxt.NetworkError("refused")] * 3, slept, attempts=3)
    with pytest.raises(ExchangeUnavailable) as err:
        gw.fetch_ohlcv("BTC/USDT", "5m", T0, 1)
    assert err.value.exchange == "binance" and "NetworkError after 3 attempts" in err.value.reason
    assert slept == [0.25, 0.5]
    with pytest.raises(ExchangeUnavailable):  # a non-retryable exchange error: at once
        gateway([ccxt.ExchangeError("boom")], slept).fetch_ohlcv("BTC/USDT", "5m", T0, 1)


def test_gateway_unknown_pairs() -> None:
    gw = gateway([], [])
    gw.check_pairs(["BTC/USDT"])
    with pytest.raises(UnknownPair) as err:
        gw.check_pairs(["BTC/USDT", "DOGE/EUR"])
    assert err.value.pairs == ["DOGE/EUR"]
    with pytest.raises(UnknownPair):
        gw.fetch_ohlcv("XRP/USDT", "5m", T0, 1)
