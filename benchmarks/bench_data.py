"""Figures for market data, each part in its own process as in the stack (exchange simulator,
the S3 emulator, this process as the data collection task):

- ingest: candles per second end to end (exchange -> CCXT -> ArcticDB on S3), pages gathered
  into batches written by one writer thread while the next batch is fetched (``--batch-candles
  1000``: one write per page, as before batching but pipelined), with CCXT's own throttle
  (binance: 20 ms per klines page) and with it off; where the time goes (fetch vs write wall
  seconds, which overlap, and the fetching thread's CPU seconds), and the CPU seconds of the
  three processes, stable figures on a loaded machine where the wall ones are not;
- warm-up read: wall time to read 30 days x 10 pairs of 5m candles (what a backtest loads).

    .venv/bin/python benchmarks/bench_data.py [--days 90] [--pairs 3] [--batch-candles N]
                                              [--batch-s S]

``--s3 moto`` puts moto's own server (a connection per request) in place of the stack's
emulator.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
from common import free_port

from tradai.data.backfill import BATCH_CANDLES, BATCH_S, Backfiller
from tradai.data.exchange import ExchangeGateway
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai.data.timeframes import last_closed_open_ms
from tradai.data.validation import CandleRange

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT",
         "AVAX/USDT", "LINK/USDT", "DOT/USDT"]
M5 = 300_000
DAY = 86_400_000
BUCKET = "bench-arcticdb"


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADAI_")}
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


# The stack's S3: moto's app behind the cloud's request handler (kept-alive connections,
# TCP_NODELAY), without the control plane.
EMULATOR = """
import sys, threading
from tradai_sim.cloud.emulator import EmulatorServer, prepare_moto_environment
port = int(sys.argv[1])
prepare_moto_environment(port)
def control(environ, start_response):
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]
EmulatorServer("127.0.0.1", port, control).start()
threading.Event().wait()
"""


def start_moto(tmp: Path, server: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = ([sys.executable, "-c", EMULATOR, str(port)] if server == "emulator" else
            [sys.executable, "-m", "moto.server", "-p", str(port)])
    proc = spawn(argv, tmp / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    deadline = time.time() + 30
    while True:
        try:
            s3.create_bucket(Bucket=BUCKET)
            return proc, endpoint
        except Exception:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("moto server did not start") from None
            time.sleep(0.2)


def start_exchange(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = tmp / "exchange.json"
    proc = spawn([sys.executable, "-m", "tradai_sim.exchange", "--port", "0", "--seed", "1",
                  "--weight-per-minute", "0", "--pairs", ",".join(PAIRS),
                  "--ready-file", str(ready)], tmp / "exchange.log")
    while not (ready.exists() and ready.read_text()):
        if proc.poll() is not None:
            raise SystemExit("exchange did not start")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())["url"]


def settings(endpoint: str, exchange_url: str, library: str, **extra: Any) -> DataSettings:
    return DataSettings(AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="us-east-1",  # type: ignore[call-arg]
                        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                        TRADAI_BUCKET_ARCTICDB=BUCKET, TRADAI_ARCTICDB_LIBRARY=library,
                        TRADAI_EXCHANGE_URL=exchange_url, **extra)


class Timed:
    """Wraps a callable attribute to add up the calls, the wall time spent in them and the
    calling thread's CPU time."""

    def __init__(self, obj: Any, name: str) -> None:
        self.calls, self.seconds, self.cpu_seconds = 0, 0.0, 0.0
        inner = getattr(obj, name)

        def timed(*a: Any, **k: Any) -> Any:
            t, c = time.perf_counter(), time.thread_time()
            try:
                return inner(*a, **k)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - t
                self.cpu_seconds += time.thread_time() - c

        setattr(obj, name, timed)


def cpu_s(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default), all its threads."""
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def ingest(s: DataSettings, pairs: list[str], days: int, servers: dict[str, int],
           **batching: Any) -> dict[str, float]:
    store, gateway = OhlcvStore.from_settings(s), ExchangeGateway(s)
    gateway.markets()
    store.describe(SeriesKey("binance", pairs[0], "5m"))  # connect before the clock starts
    fetch, write = Timed(gateway, "fetch_ohlcv"), Timed(store, "write")
    bf = Backfiller(store, gateway, s.page_limit, **batching)
    end = last_closed_open_ms(int(time.time() * 1000), M5)
    rng = CandleRange(end - days * DAY + M5, end, M5)
    cpu0 = {name: cpu_s(pid) for name, pid in servers.items()} | {"ingest": cpu_s()}
    t = time.perf_counter()
    written = sum(bf.ensure(SeriesKey("binance", p, "5m"), rng).written for p in pairs)
    wall = time.perf_counter() - t
    cpu = {name: cpu_s(pid) - cpu0[name] for name, pid in servers.items()}
    cpu["ingest"] = cpu_s() - cpu0["ingest"]
    return {"candles": written, "wall_s": wall, "rate": written / wall,
            "fetch_s": fetch.seconds, "fetch_cpu_s": fetch.cpu_seconds, "pages": fetch.calls,
            "write_s": write.seconds, "writes": write.calls,
            **{f"cpu_{k}": v for k, v in cpu.items()}}


def warmup_read(s: DataSettings, pairs: list[str], days: int) -> tuple[float, int]:
    store = OhlcvStore.from_settings(s)
    keys = [SeriesKey("binance", p, "5m") for p in pairs]
    end = last_closed_open_ms(int(time.time() * 1000), M5)
    bf = Backfiller(store, ExchangeGateway(s), s.page_limit)
    rng = CandleRange(end - days * DAY + M5, end, M5)
    for k in keys:
        bf.ensure(k, rng)
    fresh = OhlcvStore.from_settings(s)  # a new reader: nothing cached in this process
    fresh.describe(keys[0])
    t = time.perf_counter()
    rows = sum(len(fresh.read(k, rng.start_ms, rng.end_ms)) for k in keys)
    return time.perf_counter() - t, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--batch-candles", type=int, default=BATCH_CANDLES)
    ap.add_argument("--batch-s", type=float, default=BATCH_S)
    ap.add_argument("--s3", choices=("emulator", "moto"), default="emulator",
                    help="the stack's emulator (default) or moto's own server, which closes "
                         "every connection")
    args = ap.parse_args()
    batching = {"batch_candles": args.batch_candles, "batch_s": args.batch_s}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        moto, endpoint = start_moto(tmp, args.s3)
        print(f"S3: {args.s3}")
        exchange, url = start_exchange(tmp)
        try:
            pairs = PAIRS[: args.pairs]
            for label, extra in (("CCXT throttle on (default)", {}),
                                 ("CCXT throttle off", {"TRADAI_EXCHANGE_RATE_LIMIT_MS": 0})):
                lib = f"ingest_{len(label)}"
                r = ingest(settings(endpoint, url, lib, **extra), pairs, args.days,
                           {"exchange": exchange.pid, "moto": moto.pid}, **batching)
                cpu = r["cpu_ingest"] + r["cpu_exchange"] + r["cpu_moto"]
                print(f"ingest {args.days} d x {len(pairs)} pairs 5m, {label}: "
                      f"{r['candles']:,.0f} candles in {r['wall_s']:.1f} s = "
                      f"{r['rate']:,.0f} candles/s (batches of up to {args.batch_candles:,} "
                      f"candles / {args.batch_s:g} s)\n"
                      f"  fetch {r['pages']:.0f} pages {r['fetch_s']:.2f} s (its thread's CPU "
                      f"{r['fetch_cpu_s']:.2f} s), ArcticDB write {r['writes']:.0f} batches "
                      f"{r['write_s']:.2f} s (overlapping, on the writer thread)\n"
                      f"  CPU s: ingest {r['cpu_ingest']:.2f}, exchange {r['cpu_exchange']:.2f}, "
                      f"moto S3 {r['cpu_moto']:.2f}; {r['candles'] / cpu:,.0f} candles per "
                      f"CPU second of the three (load {os.getloadavg()[0]:.1f})")
            wall, rows = warmup_read(settings(endpoint, url, "warmup",
                                              TRADAI_EXCHANGE_RATE_LIMIT_MS=0), PAIRS, 30)
            print(f"warm-up read 30 d x {len(PAIRS)} pairs 5m from S3: {rows:,} candles "
                  f"in {wall * 1000:.0f} ms")
        finally:
            for proc in (exchange, moto):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
