"""Backtests through the platform versus Freqtrade directly.

- one backtest (EmaCrossover, 2 pairs x 90 days of 5m): wall time from ``POST
  /api/v1/backtests`` at the gateway to COMPLETED, first with the data still to fetch (cold:
  EnsureData backfills from the exchange), then again on stored data (warm); and Freqtrade's
  ``Backtesting`` run in this process on the same ArcticDB candles and config layers. The
  ratio warm / direct is the platform's overhead; the issue's own baseline, the ``freqtrade
  backtesting`` CLI on the same files and config in a fresh process (its imports included,
  as a task pays its own), is timed too (queue, workflow, Lambdas, task start,
  reading ArcticDB, MLflow and S3 logging), and the job's status says where it went: its
  ``timings`` (seconds per stage on the platform clock, shown here in wall seconds: divided
  by the time scale) for the cold and the warm run;
- throughput: 20 backtests (1 pair x 7 days) queued at once, the spec's limit of 10 tasks.

    .venv/bin/python benchmarks/bench_backtests_e2e.py [--endpoint http://127.0.0.1:PORT]
        [--no-burst]   # the single backtest only (no 20-job throughput run)
        [--warm N]     # warm runs, each beside a CLI run (default 3): medians reported

Without ``--endpoint`` a local cloud (time scale 20) is started and stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.cloud import RunningCloud, start_cloud, wait_for  # noqa: E402
from tests.integration.test_edge_gateway import Edge  # noqa: E402
from tradai_sim.cloud.edge.config import RATE_LIMIT_ENV  # noqa: E402

STRATEGY = "EmaCrossover"
PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = "20250901-20251130"  # 90 days
HEADLINE = ("total_trades", "profit_total", "max_drawdown", "win_rate")
BASE_CONFIG = ROOT / "platform" / "tradai" / "config" / "base.json"


BODY = {"strategy": STRATEGY, "alias": "champion", "pairs": PAIRS, "timeframe": "5m",
        "timerange": TIMERANGE}


def open_stack(endpoint: str | None, tmp: Path) -> RunningCloud:
    """The stack at ``endpoint``, else a new one (time scale 20) in ``tmp``; once its backend
    is healthy and the example strategies are registered."""
    # Polling every 0.2 s for several runs would pass the gateway's 100 requests per 5 minutes
    # per user; the limit is not what this measures (bench_gateway.py covers the gateway).
    os.environ.setdefault(RATE_LIMIT_ENV, "2000/300")
    cloud = (RunningCloud(endpoint, tmp, None, 20.0) if endpoint
             else start_cloud(tmp / "cloud", time_scale=20.0, timeout=180))
    try:
        edge = Edge(cloud)
        wait_for(lambda: edge.healthy("backend-api"), timeout=120)
        wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=300,
                 interval=1)
    except BaseException:
        cloud.stop()
        raise
    return cloud


def run_one(edge: Edge, token: str, body: dict[str, Any], timeout: float = 1800,
            poll: float = 0.5) -> tuple[float, dict[str, Any]]:
    """Wall seconds from the submit to the status poll that sees the end; a poll every
    ``poll`` s adds half of it on average (the gateway allows 100 requests per 5 minutes)."""
    started = time.perf_counter()
    resp = edge.post("/api/v1/backtests", token, body, key=uuid.uuid4().hex)
    resp.raise_for_status()
    job_id = resp.json()["ticket_id"]
    final = wait_for(lambda: (b := edge.get(f"/api/v1/backtests/{job_id}", token).json())[
        "status"] in ("COMPLETED", "FAILED") and b, timeout=timeout, interval=poll)
    if final["status"] != "COMPLETED":
        raise RuntimeError(f"backtest {job_id} failed: {final.get('error')}")
    return time.perf_counter() - started, final


def data_store(cloud: RunningCloud) -> Any:
    """The stack's ArcticDB market data (an ``OhlcvStore``), opened as the harness."""
    from tradai.data.settings import DataSettings
    from tradai.data.store import OhlcvStore

    return OhlcvStore.from_settings(DataSettings(
        AWS_ENDPOINT_URL=cloud.endpoint, AWS_DEFAULT_REGION=cloud.region,
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        TRADAI_BUCKET_ARCTICDB=cloud.name("arcticdb")))  # type: ignore[call-arg]


def write_inputs(store: Any, cloud: RunningCloud, tmp: Path) -> None:
    """The stored candles as Freqtrade's feather files (``tmp/data``) and the job's config
    layers as one file (``tmp/config.json``), as a user would run the CLI on them."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    from tradai.config.exchange import exchange_layer
    from tradai.config.merge import deep_merge
    from tradai.data.keys import SeriesKey
    from tradai.strategies import CONFIGS_DIR, STRATEGIES_DIR

    handler = get_datahandler(tmp / "data", "feather")
    for pair in PAIRS:
        frame = store.read(SeriesKey("binance", pair, "5m"), None, None)
        handler.ohlcv_store(pair, "5m", frame.reset_index(), CandleType.SPOT)
    endpoints = cloud.status()["resources"]["endpoints"]
    config = deep_merge(json.loads(BASE_CONFIG.read_text()),
                        json.loads((CONFIGS_DIR / f"{STRATEGY}.json").read_text()),
                        exchange_layer(endpoints["exchange"], endpoints["egress"]),
                        {"exchange": {"pair_whitelist": PAIRS}, "timerange": TIMERANGE,
                         "export": "none", "strategy_path": str(STRATEGIES_DIR),
                         "dry_run": True})
    (tmp / "user_data").mkdir(exist_ok=True)
    (tmp / "config.json").write_text(json.dumps(config))


def direct(cloud: RunningCloud, tmp: Path) -> tuple[float, dict[str, Any]]:
    """Freqtrade's Backtesting on the same stored candles and config layers (no platform)."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    from tradai.backtests.results import headline

    store = data_store(cloud)  # opening the connection is not what is timed
    started = time.perf_counter()
    write_inputs(store, cloud, tmp)
    ft = setup_optimize_configuration(
        {"config": [str(tmp / "config.json")], "user_data_dir": str(tmp / "user_data"),
         "datadir": str(tmp / "data")}, RunMode.BACKTEST)
    bt = Backtesting(ft)
    bt.start()
    Backtesting.cleanup()
    return time.perf_counter() - started, headline(bt.results["strategy"][STRATEGY])


def cli(tmp: Path) -> dict[str, float]:
    """``freqtrade backtesting`` as a user runs it, on the files ``direct`` wrote: wall and
    CPU seconds of the process (interpreter start and imports included)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "freqtrade", "backtesting", "--config",
                    str(tmp / "config.json"), "--userdir", str(tmp / "user_data"),
                    "--datadir", str(tmp / "data"), "--export", "none"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def wall_split(final: dict[str, Any], time_scale: float) -> dict[str, float]:
    """The job's stage timings (platform clock) in wall seconds."""
    return {stage: round(seconds / time_scale, 2)
            for stage, seconds in (final.get("timings") or {}).items()}


def throughput(edge: Edge, token: str, n: int = 20) -> float:
    started = time.perf_counter()
    jobs = []
    for i in range(n):
        body = {"strategy": STRATEGY, "alias": "champion", "pairs": ["BTC/USDT"],
                "timeframe": "5m", "timerange": f"202510{i + 1:02d}-202510{i + 8:02d}"}
        jobs.append(edge.post("/api/v1/backtests", token, body,
                              key=uuid.uuid4().hex).json()["ticket_id"])
    for job_id in jobs:
        wait_for(lambda j=job_id: edge.get(f"/api/v1/backtests/{j}", token).json()["status"]
                 in ("COMPLETED", "FAILED"), timeout=1800, interval=1)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", help="a running local cloud (else one is started)")
    parser.add_argument("--no-burst", action="store_true",
                        help="skip the 20-backtest throughput run")
    parser.add_argument("--warm", type=int, default=3,
                        help="warm runs, each beside a CLI run; medians are reported")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bt-"))
    cloud = open_stack(args.endpoint, tmp)
    try:
        edge = Edge(cloud)
        token = edge.user()["access"]
        body = BODY
        cold, cold_final = run_one(edge, token, body)
        direct_s, direct_result = direct(cloud, tmp)
        # Interleaved, so the machine's drift (other load, CPU frequency) meets both alike.
        warms: list[tuple[float, dict[str, Any]]] = []
        clis: list[dict[str, float]] = []
        for _ in range(max(1, args.warm)):
            warms.append(run_one(edge, token, body, poll=0.2))
            clis.append(cli(tmp))
        warm, final = sorted(warms, key=lambda w: w[0])[len(warms) // 2]
        cli_run = {"wall_s": statistics.median(c["wall_s"] for c in clis),
                   "cpu_s": statistics.median(c["cpu_s"] for c in clis),
                   "runs_wall_s": [c["wall_s"] for c in clis]}
        burst = None if args.no_burst else throughput(edge, token)
        # The status contract's four fields; floats pass through DynamoDB as decimals.
        same = all(math.isclose(float(final["result"][k]), float(direct_result[k]),
                                rel_tol=1e-9) for k in HEADLINE)
        print(json.dumps({
            "backtest_2_pairs_90_days_5m": {
                "platform_cold_s": round(cold, 1), "platform_warm_s": round(warm, 1),
                "platform_warm_runs_s": [round(w, 2) for w, _ in warms],
                "freqtrade_direct_s": round(direct_s, 1),
                "overhead_ratio_warm": round(warm / direct_s, 2),
                "freqtrade_cli": cli_run,
                "overhead_ratio_warm_vs_cli": round(warm / cli_run["wall_s"], 2),
                "same_headline_metrics": same,
                "headline": {k: final["result"][k] for k in HEADLINE},
                "warm_stages_wall_s": wall_split(final, cloud.time_scale),
                "cold_stages_wall_s": wall_split(cold_final, cloud.time_scale)},
            "throughput_20_queued": None if burst is None else {
                "wall_s": round(burst, 1), "backtests_per_minute": round(20 / burst * 60, 2)},
        }, indent=2))
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
