"""Market data end to end: the exchange simulator (its own process, started here on a free
port), CCXT, ArcticDB on the cloud's moto S3 (another process), and the data collection
service (in-process API, or its own process when it has to be killed).

CCXT ``fetch_ohlcv`` pagination itself is covered by ``test_exchange_clients.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from fastapi.testclient import TestClient

from tests.integration.cloud import RunningCloud, free_port, wait_for
from tests.integration.exchange_process import ExchangeProcess
from tradai.data.backfill import Backfiller
from tradai.data.exchange import ExchangeGateway
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai.data.timeframes import last_closed_open_ms
from tradai.data.validation import CandleRange
from tradai.services.data_collection.app import create_app
from tradai.services.data_collection.dependencies import DataCollection
from tradai.services.data_collection.settings import ServiceSettings
from tradai_sim.exchange.market import Market

SEED = 11
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
M5 = 300_000
DAY = 86_400_000
BUCKET = "tradai-local-arcticdb"


class Exchange(ExchangeProcess):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, SEED, PAIRS)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    ex = Exchange(tmp_path_factory.mktemp("data-exchange"))
    try:
        yield ex
    finally:
        ex.stop()


@pytest.fixture()
def fresh_exchange(exchange: Exchange) -> Iterator[Exchange]:
    exchange.admin("reset")
    yield exchange
    exchange.admin("reset")


def env_for(cloud: RunningCloud, exchange: Exchange, library: str) -> dict[str, str]:
    """The environment a data collection task gets, pointed at this test's exchange/library."""
    return {"AWS_ENDPOINT_URL": cloud.endpoint, "AWS_DEFAULT_REGION": cloud.region,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true", "TRADAI_BUCKET_ARCTICDB": BUCKET,
            "TRADAI_ARCTICDB_LIBRARY": library, "TRADAI_EXCHANGE_URL": exchange.url,
            "TRADAI_EXCHANGE_RATE_LIMIT_MS": "5", "TRADAI_EXCHANGE_BACKOFF_S": "0.2",
            "TRADAI_EXCHANGE_BACKOFF_CAP_S": "2"}


def settings(cloud: RunningCloud, exchange: Exchange, library: str,
             **extra: Any) -> DataSettings:
    return DataSettings(**env_for(cloud, exchange, library), **extra)  # type: ignore[arg-type]


def library() -> str:
    return f"it_{uuid.uuid4().hex[:10]}"


def backfiller(s: DataSettings) -> Backfiller:
    return Backfiller(OhlcvStore.from_settings(s), ExchangeGateway(s), s.page_limit)


def closed_range(days: int, now_ms: int | None = None) -> CandleRange:
    now_ms = now_ms or int(time.time() * 1000)
    end = last_closed_open_ms(now_ms, M5)
    return CandleRange(end - days * DAY + M5, end, M5)


def assert_equals_market(store: OhlcvStore, key: SeriesKey, rng: CandleRange) -> None:
    frame = store.read(key, rng.start_ms, rng.end_ms)
    times = frame.index.as_unit("ms").asi8
    expected = rng.start_ms + np.arange(rng.candles, dtype=np.int64) * M5
    assert np.array_equal(times, expected), "no gap, no duplicate"
    model = Market(SEED, PAIRS).candles(key.pair, "5m", rng.start_ms, rng.candles,
                                        rng.end_ms + M5)  # every candle closed
    for col in ("open", "high", "low", "close"):
        assert np.allclose(frame[col].to_numpy(), getattr(model, col), rtol=0, atol=1e-9), col
    assert np.allclose(frame["volume"].to_numpy(), model.volume, rtol=1e-12)


# -- backfill ---------------------------------------------------------------------------------


def test_30_days_3_pairs_backfill_equals_the_simulator(cloud: RunningCloud,
                                                       fresh_exchange: Exchange) -> None:
    s = settings(cloud, fresh_exchange, library())
    bf = backfiller(s)
    rng = closed_range(30)
    started = time.perf_counter()
    results = [bf.ensure(SeriesKey("binance", p, "5m"), rng) for p in PAIRS]
    elapsed = time.perf_counter() - started
    assert all(r.complete and r.written == rng.candles == 8_640 for r in results)
    assert fresh_exchange.klines_calls() == 3 * 9  # 1000-candle pages
    for p in PAIRS:
        assert_equals_market(bf.store, SeriesKey("binance", p, "5m"), rng)
    # ensure again: nothing missing, no exchange call
    before = fresh_exchange.klines_calls()
    assert all(bf.ensure(SeriesKey("binance", p, "5m"), rng).written == 0 for p in PAIRS)
    assert fresh_exchange.klines_calls() == before
    print(f"30 d x 3 pairs: {3 * rng.candles / elapsed:,.0f} candles/s")


def test_429_and_5xx_bursts_are_survived(cloud: RunningCloud, fresh_exchange: Exchange) -> None:
    s = settings(cloud, fresh_exchange, library())
    bf = backfiller(s)
    key = SeriesKey("binance", "ETH/USDT", "5m")
    bf.source.markets()  # type: ignore[attr-defined]
    fresh_exchange.admin("faults", {"error_burst": {"status": 503, "count": 3}})
    first = closed_range(5)
    assert bf.ensure(key, first).complete
    fresh_exchange.admin("faults", {"error_burst": {"status": 502, "count": 2}})
    assert bf.ensure(key, closed_range(8)).complete
    # the 429 window starts with the admin call (wall clock): set it just before the requests
    # it must meet, so a slow retry of the 5xx burst cannot outlive it
    fresh_exchange.admin("faults", {"force_429_for_seconds": 1.5, "retry_after": 1})
    wider = closed_range(12)
    assert bf.ensure(key, wider).complete
    statuses = fresh_exchange.admin("stats")["statuses"]
    assert statuses.get("503") == 3 and statuses.get("502") == 2 and statuses.get("429", 0) >= 1
    assert bf.source.retries >= 6  # type: ignore[attr-defined]
    assert_equals_market(bf.store, key, wider)


def test_killed_backfill_resumes_with_fewer_calls_and_the_same_result(
        cloud: RunningCloud, fresh_exchange: Exchange, tmp_path: Path) -> None:
    lib = library()
    rng = closed_range(30)
    body = {"pairs": ["SOL/USDT"], "timeframe": "5m", "start": rng.start_ms // 1000,
            "end": rng.end_ms // 1000}
    fresh_exchange.admin("faults", {"latency_ms": 120})  # slow pages: time to kill mid-way
    svc = ServiceProcess(env_for(cloud, fresh_exchange, lib), tmp_path / "first.log")
    try:
        job = svc.post_ensure(body)
        svc.wait_job(job, lambda j: j["written"] >= 3000)
    finally:
        svc.kill()
    calls_killed = fresh_exchange.klines_calls()
    fresh_exchange.admin("faults", {"latency_ms": 0})
    key = SeriesKey("binance", "SOL/USDT", "5m")
    store = OhlcvStore.from_settings(settings(cloud, fresh_exchange, lib))
    stored = len(store.open_times(key))
    assert 3000 <= stored < rng.candles, "killed half-way"
    svc = ServiceProcess(env_for(cloud, fresh_exchange, lib), tmp_path / "second.log")
    try:
        done = svc.post_ensure({**body, "wait_seconds": 60})
    finally:
        svc.stop()
    assert done["status"] == "succeeded" and done["missing_before"] == rng.candles - stored
    resumed_calls = fresh_exchange.klines_calls() - calls_killed
    # cold: the same range into an empty library
    before = fresh_exchange.klines_calls()
    cold = backfiller(settings(cloud, fresh_exchange, library()))
    assert cold.ensure(key, rng).complete
    cold_calls = fresh_exchange.klines_calls() - before
    assert resumed_calls < cold_calls == 9
    assert resumed_calls <= cold_calls - stored // 1000
    assert store.read(key).equals(cold.store.read(key)), "same result as a cold backfill"
    assert_equals_market(store, key, rng)


class ServiceProcess:
    """``python -m tradai.services.data_collection`` on a free port (no sync loop)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADAI_"))}
        full.update(env, PORT=str(self.port), TRADAI_SYNC_ENABLED="false")
        with log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "tradai.services.data_collection"],
                                         env=full, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        try:  # importing the service took 40 s at load 32: a minute, and never left running
            wait_for(self._healthy, timeout=60, interval=0.1)
        except BaseException:
            self.kill()
            raise

    def _healthy(self) -> bool:
        assert self.proc.poll() is None, "the service exited"
        try:
            return requests.get(f"{self.url}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def post_ensure(self, body: dict[str, Any]) -> dict[str, Any]:
        r = requests.post(f"{self.url}/api/v1/data/ensure", json=body, timeout=90)
        assert r.status_code in (200, 202), r.text
        return r.json()

    def wait_job(self, job: dict[str, Any], pred: Any) -> dict[str, Any]:
        def state() -> dict[str, Any] | None:
            j = requests.get(f"{self.url}/api/v1/data/jobs/{job['job_id']}", timeout=5).json()
            assert j["status"] in ("queued", "running"), j
            return j if pred(j) else None

        return wait_for(state, timeout=60, interval=0.05)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


# -- the API against the real exchange and S3 -------------------------------------------------


@pytest.fixture()
def api(cloud: RunningCloud, fresh_exchange: Exchange) -> Iterator[TestClient]:
    s = settings(cloud, fresh_exchange, library(), TRADAI_EXCHANGE_RETRIES=2)
    svc = DataCollection.build(s, ServiceSettings(TRADAI_SYNC_ENABLED=False,  # type: ignore[call-arg]
                                                  TRADAI_SYNC_PAIRS="BTC/USDT"))
    with TestClient(create_app(svc)) as client:
        yield client


def test_outage_is_503_naming_the_exchange_and_data_is_untouched(
        api: TestClient, fresh_exchange: Exchange) -> None:
    rng = closed_range(2)
    body = {"pairs": ["BTC/USDT"], "timeframe": "5m", "start": rng.start_ms // 1000,
            "wait_seconds": 30}
    assert api.post("/api/v1/data/ensure", json=body).json()["status"] == "succeeded"
    before = api.get("/api/v1/data/metadata").json()["series"]
    fresh_exchange.admin("faults", {"outage": True, "outage_mode": "close"})
    # markets are cached: the job reaches the exchange and fails after its retries
    r = api.post("/api/v1/data/ensure", json={**body, "start": rng.start_ms // 1000 - DAY // 1000})
    assert r.status_code == 503, r.text
    assert r.json()["error"]["exchange"] == "binance"
    assert "NetworkError" in r.json()["error"]["reason"]
    assert api.get("/api/v1/data/metadata").json()["series"] == before
    # a fresh service has no markets cached: refused up front
    svc: DataCollection = api.app.state.data_collection  # type: ignore[attr-defined]
    svc.gateway._markets = None
    r = api.post("/api/v1/data/ensure", json=body)
    assert r.status_code == 503 and r.json()["detail"]["exchange"] == "binance"
    assert "load markets" in r.json()["detail"]["reason"]


def test_freshness_and_sync_against_the_exchange(api: TestClient,
                                                 fresh_exchange: Exchange) -> None:
    rng = closed_range(1)
    old_end = rng.end_ms - 6 * M5 * 12  # ETH stops 6 hours ago: stale
    body = {"pairs": ["ETH/USDT"], "timeframe": "5m", "start": rng.start_ms // 1000,
            "end": old_end // 1000, "wait_seconds": 30}
    assert api.post("/api/v1/data/ensure", json=body).json()["status"] == "succeeded"
    report = api.get("/api/v1/data/freshness").json()["series"]
    by = {s["pair"]: s for s in report}
    assert by["ETH/USDT"]["verdict"] == "stale" and by["ETH/USDT"]["lag_candles"] >= 72
    assert by["BTC/USDT"]["verdict"] == "missing"  # a sync target not yet stored
    synced = api.post("/api/v1/data/sync")
    assert synced.status_code == 200, synced.text
    report = api.get("/api/v1/data/freshness").json()["series"]
    assert {s["pair"]: s["verdict"] for s in report} == {"BTC/USDT": "fresh", "ETH/USDT": "fresh"}
    assert all(s["gap_count"] == 0 for s in report)


# -- in the stack -----------------------------------------------------------------------------


def test_stack_runs_the_exchange_and_the_data_collection_service(cloud: RunningCloud) -> None:
    status = cloud.status()
    url = status["resources"]["endpoints"]["exchange"]
    internet = {"http": status["resources"]["endpoints"]["egress"]}
    assert requests.get(f"{url}/api/v3/ping", proxies=internet, timeout=5).status_code == 200
    assert status["parts"]["internet"]["healthy"] is True

    def task() -> dict[str, Any] | None:
        tasks = [t for t in cloud.control("/ecs/tasks")["tasks"]
                 if t["group"] == f"service:{cloud.name('data-collection')}"
                 and t["last_status"] == "RUNNING"]
        return tasks[0] if tasks else None

    running = wait_for(task, timeout=90, interval=0.5)
    base = f"http://127.0.0.1:{running['port']}"

    def health() -> dict[str, Any] | None:
        try:
            return requests.get(f"{base}/health", timeout=10).json()
        except requests.RequestException:
            return None

    assert wait_for(health, timeout=90, interval=0.3)["exchange_url"] == url
    seen: list[Any] = []

    def fresh() -> bool:  # the background sync keeps BTC/USDT and ETH/USDT 5m fresh
        r = requests.get(f"{base}/api/v1/data/freshness", timeout=30).json()
        seen[:] = [r, requests.get(f"{base}/api/v1/data/sync", timeout=30).json()]
        return {s["pair"]: s["verdict"] for s in r["series"]}.get("BTC/USDT") == "fresh"

    try:
        wait_for(fresh, timeout=90, interval=1.0)
    except AssertionError as exc:
        log = Path(running["log"]).read_text()[-2000:] if running.get("log") else ""
        raise AssertionError(f"not fresh: {seen}\ntask log: {log}") from exc
