"""Figures for trading sessions:

- warm-up read: a session's warm-up (``tradai.strategy_container.trading.warmup.read``) of
  30 days x 10 pairs of 5m candles from ArcticDB on S3 (a moto server), into Freqtrade's frames;
- session start -> first heartbeat, wall and simulated, and the bot's loop latency against the
  exchange simulator (from the heartbeats), on a real local stack (``tradai-sim up``, scale 20)
  with a dry-run session of a strategy that enters at once.

    .venv/bin/python benchmarks/bench_trading.py [--beats 10] [--skip-stack]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.integration helpers: the calls the platform makes

from bench_data import PAIRS, settings, start_exchange, start_moto, warmup_read  # noqa: E402
from common import free_port, pct  # noqa: E402

from tradai.data.store import OhlcvStore  # noqa: E402
from tradai.strategy_container.trading import warmup  # noqa: E402


def bench_warmup() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        moto, endpoint = start_moto(tmp)
        exchange, url = start_exchange(tmp)
        try:
            s = settings(endpoint, url, "warmup", TRADAI_EXCHANGE_RATE_LIMIT_MS=0)
            warmup_read(s, PAIRS, 30)  # writes the 30 days first
            store = OhlcvStore.from_settings(s)
            t = time.perf_counter()
            warm = warmup.read(store, PAIRS, "5m", 30, int(time.time() * 1000))
            wall = time.perf_counter() - t
            print(f"warm-up read 30 d x {len(PAIRS)} pairs 5m (ArcticDB on S3 -> Freqtrade "
                  f"frames): {warm.candles:,} candles in {wall * 1000:.0f} ms")
        finally:
            for proc in (exchange, moto):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)


def bench_session(beats: int) -> None:
    from tests.integration import trading
    from tests.integration.cloud import RunningCloud, wait_for

    sim = [sys.executable, "-m", "tradai_sim.cli"]
    with tempfile.TemporaryDirectory() as d:
        state, port = Path(d) / "stack", free_port()
        subprocess.run([*sim, "up", "--detach", "--port", str(port), "--state-dir", str(state)],
                       check=True, stdout=subprocess.DEVNULL)
        cloud = RunningCloud(f"http://127.0.0.1:{port}", state, None, 20.0)
        try:
            wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=300,
                     interval=1)
            creds = json.loads(cloud.client("secretsmanager").get_secret_value(
                SecretId=cloud.name("mlflow-basic-auth"))["SecretString"])
            os.environ["MLFLOW_TRACKING_USERNAME"] = creds["username"]  # as the services do
            os.environ["MLFLOW_TRACKING_PASSWORD"] = creds["password"]
            name, _ = trading.register_probe(cloud)
            clock0 = cloud.status()["simulated_now"]
            t0 = time.time()
            sid = trading.start_session(cloud, name)
            first = wait_for(lambda: (trading.item(cloud, sid) or {}).get("last_heartbeat"),
                             timeout=600, interval=0.2)
            wall = time.time() - t0
            print(f"session start -> first heartbeat: {wall:.1f} s wall, "
                  f"{float(first) - clock0:.0f} s simulated (scale 20)")
            latencies: list[float] = []
            seen: set[float] = set()

            def collect() -> bool:
                it = trading.item(cloud, sid) or {}
                beat = it.get("last_heartbeat")
                if beat is not None and beat not in seen:
                    seen.add(beat)
                    latencies.append(float(it.get("loop_latency_ms") or 0))
                return len(latencies) >= beats
            wait_for(collect, timeout=600, interval=0.1)
            trades = int((trading.item(cloud, sid) or {}).get("open_trades") or 0)
            print(f"bot loop latency over {len(latencies)} heartbeats: min "
                  f"{min(latencies):.1f} ms, p50 {pct(latencies, 50):.0f} ms, p95 "
                  f"{pct(latencies, 95):.0f} ms, max "
                  f"{max(latencies):.0f} ms ({trades} open trade(s))")
            trading.stop_session(cloud, sid)
        finally:
            subprocess.run([*sim, "down", "--state-dir", str(state)], check=False,
                           stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beats", type=int, default=10)
    ap.add_argument("--skip-stack", action="store_true", help="only the warm-up read")
    args = ap.parse_args()
    bench_warmup()
    if not args.skip_stack:
        bench_session(args.beats)


if __name__ == "__main__":
    main()
