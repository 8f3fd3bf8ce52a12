"""Backfill and the exchange gateway against fakes (LMDB store): only missing candles are
fetched, pages are written in batches (by size, by age, always at the end), a crash or a kill
mid-way resumes without gap or duplicate, exchange errors become clear errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pytest

from tradai.data.backfill import Backfiller
from tradai.data.exchange import ExchangeGateway, ExchangeUnavailable, UnknownPair
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore, StoreUnavailable
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


def test_stop_event_cancels_between_pages_and_stores_what_was_fetched(
        store: OhlcvStore) -> None:
    stop = threading.Event()
    src = FakeSource()
    real = src.fetch_ohlcv

    def fetch_then_stop(*a: Any) -> list[list[float]]:
        if len(src.calls) == 1:
            stop.set()  # during the second page
        return real(*a)

    src.fetch_ohlcv = fetch_then_stop  # type: ignore[method-assign]
    result = Backfiller(store, src, page_limit=100).ensure(KEY, rng(0, 500), stop=stop)
    assert result.cancelled and not result.complete and len(src.calls) == 2
    assert result.written == 200  # both fetched pages stored before returning
    assert np.array_equal(store.open_times(KEY), expected(0, 200))


# -- batched, pipelined writes ----------------------------------------------------------------


class CountingStore(OhlcvStore):
    """An LMDB store that records each write's first open time and size, and can fail the
    ``fail_on``-th write (counting from 1) or hold writes until ``release`` is set."""

    def __init__(self, uri: str, fail_on: int | None = None, held: bool = False) -> None:
        super().__init__(uri, "ohlcv")
        self.writes: list[tuple[int, int]] = []
        self.stored = 0  # writes completed
        self.fail_on = fail_on
        self.release = threading.Event()
        if not held:
            self.release.set()

    def write(self, key: SeriesKey, frame: Any) -> int:
        assert self.release.wait(10), "write never released"
        self.writes.append((int(frame.index[0].value // 1_000_000), len(frame)))
        if len(self.writes) == self.fail_on:
            raise StoreUnavailable("ArcticDB S3Error: injected")
        n = super().write(key, frame)
        self.stored += 1
        return n


@pytest.fixture()
def counting(tmp_path: Path) -> CountingStore:
    return CountingStore(f"lmdb://{tmp_path / 'db'}")


def test_pages_are_written_in_batches_in_order_and_reported_per_page(
        counting: CountingStore) -> None:
    reported: list[tuple[int, str]] = []
    bf = Backfiller(counting, FakeSource(), page_limit=100, batch_candles=300, batch_s=1e9)
    result = bf.ensure(KEY, rng(0, 1000), on_page=lambda k, n: reported.append(
        (n, threading.current_thread().name)))
    assert result.complete and result.written == 1000 and result.pages == 10
    assert counting.writes == [(T0, 300), (T0 + 300 * M5, 300), (T0 + 600 * M5, 300),
                               (T0 + 900 * M5, 100)]  # the last batch at the end
    # one report per page, after its batch is stored, on the caller's thread
    assert reported == [(100, threading.current_thread().name)] * 10
    assert np.array_equal(counting.open_times(KEY), expected(0, 1000))


def test_a_batch_is_handed_over_when_its_first_page_has_waited_batch_s(
        counting: CountingStore) -> None:
    now = [0.0]
    src = FakeSource()
    real = src.fetch_ohlcv

    def slow_fetch(*a: Any) -> list[list[float]]:
        now[0] += 0.2  # each page takes 0.2 s
        return real(*a)

    src.fetch_ohlcv = slow_fetch  # type: ignore[method-assign]
    bf = Backfiller(counting, src, page_limit=100, batch_candles=10**6, batch_s=0.5,
                    monotonic=lambda: now[0])
    assert bf.ensure(KEY, rng(0, 1000)).written == 1000
    starts = [w[0] for w in counting.writes]
    sizes = [w[1] for w in counting.writes]
    # pages at 0.2, 0.4, 0.6, 0.8 s: the first batch goes at 0.8 s (waited 0.6 s)
    assert sizes[0] == 400 and len(sizes) >= 2 and sum(sizes) == 1000
    # a later batch may grow while the writer is busy, never hand over early
    assert all(n >= 400 for n in sizes[1:-1])
    assert starts == [T0 + sum(sizes[:i]) * M5 for i in range(len(sizes))]  # in fetch order


def test_a_busy_writer_holds_the_fetcher_at_batch_candles(tmp_path: Path) -> None:
    held = CountingStore(f"lmdb://{tmp_path / 'db'}", held=True)
    src = FakeSource()
    real = src.fetch_ohlcv
    sixth = threading.Event()
    stored_at_fetch: list[int] = []  # batches stored when each page was asked for

    def fetch(*a: Any) -> list[list[float]]:
        stored_at_fetch.append(held.stored)
        if len(src.calls) == 5:
            sixth.set()
        return real(*a)

    src.fetch_ohlcv = fetch  # type: ignore[method-assign]
    # batch 1 (pages 1-3) stays on the writer until page 6 is being fetched
    releaser = threading.Thread(target=lambda: sixth.wait(10) and held.release.set())
    releaser.start()
    bf = Backfiller(held, src, page_limit=100, batch_candles=300, batch_s=1e9)
    try:
        assert bf.ensure(KEY, rng(0, 900)).written == 900
    finally:
        held.release.set()
        releaser.join()
    # batch 2 (pages 4-6) was gathered meanwhile; page 7 is asked for only once batch 1 is
    # stored (the fetcher waited for the writer rather than gather a third batch in memory)
    assert stored_at_fetch[6] >= 1
    assert held.writes == [(T0, 300), (T0 + 300 * M5, 300), (T0 + 600 * M5, 300)]


class Killed(BaseException):
    """The process dying mid-fetch (like SIGKILL: nothing gathered is flushed)."""


def test_killed_backfill_loses_at_most_the_unwritten_batch_and_resumes(
        counting: CountingStore, tmp_path: Path) -> None:
    src = FakeSource()
    real = src.fetch_ohlcv

    def dies_on_page_8(*a: Any) -> list[list[float]]:
        if len(src.calls) == 7:
            raise Killed()
        return real(*a)

    src.fetch_ohlcv = dies_on_page_8  # type: ignore[method-assign]
    bf = Backfiller(counting, src, page_limit=100, batch_candles=300, batch_s=1e9)
    with pytest.raises(Killed):
        bf.ensure(KEY, rng(0, 1000))
    # two whole batches stored, the gathered page 7 lost: a prefix, no gap
    assert np.array_equal(counting.open_times(KEY), expected(0, 600))
    resumed = FakeSource()
    result = Backfiller(counting, resumed, page_limit=100).ensure(KEY, rng(0, 1000))
    assert result.missing_before == 400 and result.written == 400 and result.complete
    assert resumed.calls[0][0] == T0 + 600 * M5 and len(resumed.calls) == 4
    cold_store = OhlcvStore(counting.uri, "cold")
    cold = FakeSource()
    Backfiller(cold_store, cold, page_limit=100).ensure(KEY, rng(0, 1000))
    assert len(resumed.calls) < len(cold.calls) == 10
    assert counting.read(KEY).equals(cold_store.read(KEY)), "same as a cold backfill"
    again = FakeSource()  # idempotent: nothing missing, nothing fetched or written
    assert Backfiller(counting, again).ensure(KEY, rng(0, 1000)).written == 0
    assert again.calls == [] and counting.read(KEY).equals(cold_store.read(KEY))


def test_a_failed_write_stops_the_backfill_and_keeps_a_prefix(tmp_path: Path) -> None:
    failing = CountingStore(f"lmdb://{tmp_path / 'db'}", fail_on=2)
    src = FakeSource()
    bf = Backfiller(failing, src, page_limit=100, batch_candles=300, batch_s=1e9)
    with pytest.raises(StoreUnavailable):
        bf.ensure(KEY, rng(0, 2000))
    assert len(src.calls) <= 9, "the fetcher stops once the writer failed"
    # the pages gathered after the failed batch are not written: the store keeps a prefix
    assert np.array_equal(failing.open_times(KEY), expected(0, 300))
    failing.fail_on = None
    result = Backfiller(failing, FakeSource(), page_limit=100).ensure(KEY, rng(0, 2000))
    assert result.written == 1700 and result.complete
    assert np.array_equal(failing.open_times(KEY), expected(0, 2000))


def test_runs_around_stored_candles_share_one_write_that_keeps_them(
        counting: CountingStore) -> None:
    Backfiller(counting, FakeSource(), page_limit=100).ensure(KEY, rng(50, 50))
    before = counting.read(KEY)
    counting.writes.clear()
    src = FakeSource(holes={T0 + 70 * M5})  # would it delete the stored candle 70? it must not
    result = Backfiller(counting, src, page_limit=100).ensure(KEY, rng(0, 150))
    assert result.written == 100 and counting.writes == [(T0, 100)]  # one batch, two runs
    assert np.array_equal(counting.open_times(KEY), expected(0, 150))
    assert counting.read(KEY, T0 + 50 * M5, T0 + 99 * M5).equals(before)


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
