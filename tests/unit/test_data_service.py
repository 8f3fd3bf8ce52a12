"""The data collection API in-process (LMDB store, fake exchange, fake clock): ensure jobs,
freshness verdicts, metadata, sync, and every bad input as a 4xx / 503 naming the cause."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.test_data_backfill import M5, T0, FakeSource, candle
from tradai.data.candles import to_frame
from tradai.data.exchange import ExchangeUnavailable, UnknownPair
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore, StoreUnavailable
from tradai.services.data_collection.app import create_app
from tradai.services.data_collection.dependencies import DataCollection
from tradai.services.data_collection.settings import ServiceSettings

DAY = 86_400_000
NOW_MS = T0 + 10 * DAY + 60_000  # 2024-01-11T00:01Z: the 00:00 candle is forming
BTC = SeriesKey("binance", "BTC/USDT", "5m")


class FakeClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def now(self) -> float:
        return self.now_ms / 1000

    def wait(self, event: threading.Event, sim_seconds: float) -> bool:
        return event.wait(0.01)


class FakeGateway(FakeSource):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.cached: dict[str, Any] | None = None
        self.requests = self.retries = 0

    def markets(self) -> dict[str, Any]:
        if self.down:
            raise ExchangeUnavailable("binance", "load markets: NetworkError after 6 attempts")
        return {"BTC/USDT": {}, "ETH/USDT": {}}

    def check_pairs(self, pairs: list[str]) -> None:
        if self.cached is None:  # like the real gateway: markets are loaded once
            self.cached = self.markets()
        unknown = [p for p in pairs if p not in self.cached]
        if unknown:
            raise UnknownPair("binance", unknown)

    def fetch_ohlcv(self, pair: str, timeframe: str, since_ms: int,
                    limit: int) -> list[list[float]]:
        if self.down:
            raise ExchangeUnavailable("binance", "candles: ExchangeNotAvailable after 6 attempts")
        return super().fetch_ohlcv(pair, timeframe, since_ms, limit)


class Env:
    def __init__(self, client: TestClient, svc: DataCollection, gw: FakeGateway,
                 clock: FakeClock) -> None:
        self.client, self.svc, self.gw, self.clock = client, svc, gw, clock

    def ensure(self, **body: Any) -> Any:
        body.setdefault("pairs", ["BTC/USDT"])
        body.setdefault("timeframe", "5m")
        body.setdefault("wait_seconds", 10)
        return self.client.post("/api/v1/data/ensure", json=body)


@pytest.fixture()
def env(tmp_path: Path) -> Iterator[Env]:
    data = DataSettings(TRADAI_ARCTICDB_URI=f"lmdb://{tmp_path / 'db'}",
                        TRADAI_DATA_MAX_CANDLES=5000)  # type: ignore[call-arg]
    service = ServiceSettings(TRADAI_SYNC_ENABLED=False, TRADAI_SYNC_PAIRS="BTC/USDT",
                              TRADAI_DATA_MAX_WAIT_S=30)  # type: ignore[call-arg]
    gw, clock = FakeGateway(), FakeClock(NOW_MS)
    svc = DataCollection.build(data, service, clock=clock, gateway=gw)  # type: ignore[arg-type]
    with TestClient(create_app(svc)) as client:
        yield Env(client, svc, gw, clock)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def test_ensure_backfills_the_range_and_reports_progress(env: Env) -> None:
    r = env.ensure(pairs=["BTC/USDT", "eth_usdt"], start=iso(T0 + 8 * DAY))
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "succeeded" and job["error"] is None
    assert job["end"] == "2024-01-10T23:55:00Z"  # the newest closed candle
    assert [s["symbol"] for s in job["series"]] == ["binance/BTC_USDT/5m", "binance/ETH_USDT/5m"]
    assert all(s["written"] == 576 == s["missing_before"] and s["missing_after"] == 0
               for s in job["series"])
    # the same request again: nothing missing, no exchange call
    calls = len(env.gw.calls)
    again = env.ensure(pairs=["BTC/USDT", "ETH/USDT"], start=iso(T0 + 8 * DAY)).json()
    assert again["written"] == 0 and again["missing_before"] == 0 and len(env.gw.calls) == calls
    assert env.client.get(f"/api/v1/data/jobs/{job['job_id']}").json()["status"] == "succeeded"


def test_ensure_without_wait_returns_a_job_to_poll(env: Env) -> None:
    r = env.ensure(start=iso(T0), end=iso(T0 + DAY), wait_seconds=0)
    assert r.status_code in (200, 202)
    job_id = r.json()["job_id"]
    deadline = time.time() + 10
    while (job := env.client.get(f"/api/v1/data/jobs/{job_id}").json())["status"] != "succeeded":
        assert time.time() < deadline, job
        time.sleep(0.02)
    assert job["written"] == 289
    missing = env.client.get("/api/v1/data/jobs/nope")
    assert missing.status_code == 404 and "re-post" in missing.json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"pairs": ["DOGE/USDT"]}, "pairs"),
    ({"pairs": ["not a pair"]}, "pairs"),
    ({"pairs": []}, "pairs"),
    ({"timeframe": "7m"}, "timeframe"),
    ({"start": iso(T0 + 2 * DAY), "end": iso(T0 + DAY)}, "end"),
    ({"start": iso(NOW_MS + DAY)}, "start"),
    ({"end": iso(NOW_MS + DAY)}, "end"),
    ({"start": iso(T0 - 30 * DAY)}, "start"),  # over the 5000-candle cap
    ({"wait_seconds": 3600}, "wait_seconds"),
    ({"exchange": "kraken"}, "exchange"),
    ({"start": "yesterday-ish"}, "start"),
])
def test_bad_input_is_422_naming_the_field(env: Env, body: dict[str, Any], field: str) -> None:
    body.setdefault("start", iso(T0 + 9 * DAY))
    r = env.ensure(**body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"][-1] == field or field in detail[0]["loc"], detail
    assert detail[0]["msg"]
    assert env.gw.calls == []


def test_exchange_down_is_503_naming_it_and_stored_data_is_untouched(env: Env) -> None:
    assert env.ensure(start=iso(T0 + 9 * DAY)).status_code == 200
    before = env.svc.store.read(BTC)
    env.gw.down = True
    # markets already cached: the job itself fails on the exchange
    r = env.ensure(start=iso(T0 + 8 * DAY))
    assert r.status_code == 503
    assert r.json()["error"] == {"error": "exchange_unavailable", "exchange": "binance",
                                 "reason": "candles: ExchangeNotAvailable after 6 attempts",
                                 "pairs": None}
    # markets not cached (fresh gateway view): refused before any job
    env.svc.gateway.check_pairs = lambda pairs: env.gw.markets()  # type: ignore[method-assign]
    r = env.ensure(start=iso(T0 + 7 * DAY))
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["detail"]["exchange"] == "binance"
    assert env.svc.store.read(BTC).equals(before)
    env.clock.now_ms += 2 * M5  # a candle to fetch
    sync = env.client.post("/api/v1/data/sync")
    assert sync.status_code == 503 and "binance" in str(sync.json())
    assert env.svc.store.read(BTC).equals(before)


def test_freshness_verdicts_and_gaps_on_the_shared_clock(env: Env) -> None:
    store = env.svc.store
    # BTC: up to the newest closed candle, with a 3-candle hole; ETH: an hour behind
    last = NOW_MS - NOW_MS % M5 - M5
    times = [t for t in range(last - 100 * M5, last + 1, M5)
             if not last - 50 * M5 <= t < last - 47 * M5]
    store.write(BTC, to_frame([candle(t) for t in times]))
    eth = SeriesKey("binance", "ETH/USDT", "5m")
    store.write(eth, to_frame([candle(t) for t in range(last - 100 * M5, last - 11 * M5, M5)]))
    r = env.client.get("/api/v1/data/freshness", params={"pairs": "BTC/USDT,ETH/USDT"})
    assert r.status_code == 200, r.text
    by = {s["pair"]: s for s in r.json()["series"]}
    assert by["BTC/USDT"]["verdict"] == "fresh" and by["BTC/USDT"]["lag_candles"] == 0
    assert by["BTC/USDT"]["age_seconds"] == 60.0
    assert by["BTC/USDT"]["gap_count"] == 1 and by["BTC/USDT"]["missing_candles"] == 3
    assert by["BTC/USDT"]["gaps"][0]["candles"] == 3
    assert by["ETH/USDT"]["verdict"] == "stale" and by["ETH/USDT"]["lag_candles"] == 12
    env.clock.now_ms += 2 * M5  # time passes: BTC falls behind
    again = env.client.get("/api/v1/data/freshness", params=[("pairs", "BTC/USDT"),
                                                              ("timeframes", "5m")]).json()
    assert again["series"][0]["verdict"] == "stale"
    missing = env.client.get("/api/v1/data/freshness", params={"pairs": "ETH/USDT",
                                                                "timeframes": "1h"}).json()
    assert missing["series"][0]["verdict"] == "missing"
    bad = env.client.get("/api/v1/data/freshness", params={"timeframes": "7m"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "timeframes"]


def test_metadata_lists_stored_series(env: Env) -> None:
    env.ensure(start=iso(T0 + 9 * DAY), end=iso(T0 + 9 * DAY + 3_600_000))
    meta = env.client.get("/api/v1/data/metadata").json()
    assert meta["library"] == "ohlcv" and meta["exchange"] == "binance"
    assert meta["series"] == [{"symbol": "binance/BTC_USDT/5m", "exchange": "binance",
                               "pair": "BTC/USDT", "timeframe": "5m",
                               "first_candle": "2024-01-10T00:00:00Z",
                               "last_candle": "2024-01-10T01:00:00Z", "rows": 13}]


def test_sync_tops_up_targets_and_stored_series(env: Env) -> None:
    env.ensure(pairs=["ETH/USDT"], start=iso(T0 + 9 * DAY))  # stored: synced too
    env.clock.now_ms += 3 * M5
    r = env.client.post("/api/v1/data/sync")
    assert r.status_code == 200, r.text
    out = {o["symbol"]: o for o in r.json()["last_outcomes"]}
    assert out["binance/ETH_USDT/5m"]["written"] == 3
    assert out["binance/BTC_USDT/5m"]["written"] == 287  # new target: the last day
    fresh = env.client.get("/api/v1/data/freshness").json()["series"]
    assert {s["verdict"] for s in fresh} == {"fresh"}
    status = env.client.get("/api/v1/data/sync").json()
    assert status["ticks"] == 1 and status["pairs"] == ["BTC/USDT"] and not status["enabled"]
    one = env.client.post("/api/v1/data/sync", json={"pairs": ["DOGE/USDT"]})
    assert one.status_code == 422


def test_store_unavailable_is_503(env: Env) -> None:
    def broken(*a: Any, **k: Any) -> Any:
        raise StoreUnavailable("ArcticDB StorageException: E_S3_RETRYABLE connect refused")

    env.svc.store.describe = broken  # type: ignore[method-assign]
    env.svc.store.series_keys = broken  # type: ignore[method-assign]
    for path in ("/api/v1/data/metadata", "/api/v1/data/freshness"):
        r = env.client.get(path)
        assert r.status_code == 503 and r.json()["detail"]["error"] == "store_unavailable"
    assert env.client.get("/health").status_code == 200


def test_openapi_documents_the_routes(env: Env) -> None:
    paths = env.client.get("/openapi.json").json()["paths"]
    for p in ("/health", "/api/v1/data/ensure", "/api/v1/data/jobs/{job_id}",
              "/api/v1/data/freshness", "/api/v1/data/metadata", "/api/v1/data/sync"):
        assert p in paths
    assert "503" in paths["/api/v1/data/ensure"]["post"]["responses"]


def test_store_uri_secret_never_shown(tmp_path: Path) -> None:
    store = OhlcvStore("s3://h:b?access=AK&secret=SUPERSECRET&port=1&region=r")
    assert "SUPERSECRET" not in store.location


# -- candles, for readers without ArcticDB (the drift monitor) ----------------------------------
def test_candles_answer_what_the_store_holds_and_the_drift_monitor_reads_them(env: Env) -> None:
    from tradai.models.candles import ServiceCandles, StoreCandles

    env.ensure(start=iso(T0 + 9 * DAY), end=iso(T0 + 9 * DAY + 3_600_000))
    fetches = len(env.gw.calls)
    start, end = T0 + 9 * DAY + 2 * M5, T0 + 9 * DAY + 6 * M5
    r = env.client.get("/api/v1/data/candles", params={
        "pair": "btc_usdt", "timeframe": "5m", "start_ms": start, "end_ms": end})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pair"] == "BTC/USDT" and body["open_time"] == [start + i * M5 for i in range(5)]
    stored = env.svc.store.read(BTC, start, end)
    assert body["close"] == list(stored["close"])
    # The monitor's reader gives what the store holds (TestClient is an httpx.Client), as
    # StoreCandles does from the store itself.
    read = ServiceCandles("http://testserver", http=env.client).columns(BTC, start, end)
    assert read == StoreCandles(env.svc.store).columns(BTC, start, end)
    assert read.open_time == body["open_time"] and read.volume == list(stored["volume"])
    empty = env.client.get("/api/v1/data/candles", params={
        "pair": "ETH/USDT", "timeframe": "5m", "start_ms": start, "end_ms": end}).json()
    assert empty["open_time"] == [] and empty["close"] == []
    assert len(env.gw.calls) == fetches  # read-only: the exchange is never asked


@pytest.mark.parametrize(("params", "field"), [
    ({"pair": "BTCUSDT"}, "pair"),
    ({"timeframe": "7m"}, "timeframe"),
    ({"start_ms": T0 + DAY, "end_ms": T0}, "end_ms"),
    ({"start_ms": T0, "end_ms": T0 + 30 * DAY}, "end_ms"),  # over the 5000-candle cap
    ({"start_ms": "yesterday"}, "start_ms"),
])
def test_candles_bad_input_is_422_naming_the_field(env: Env, params: dict[str, Any],
                                                   field: str) -> None:
    query = {"pair": "BTC/USDT", "timeframe": "5m", "start_ms": T0, "end_ms": T0 + DAY,
             **params}
    r = env.client.get("/api/v1/data/candles", params=query)
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"][0]["loc"], r.json()
