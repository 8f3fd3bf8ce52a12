"""One backtest (2 pairs x 90 days of 5m, EmaCrossover) through the strategy container versus
Freqtrade directly on the same data.

- container: an ECS RunTask of the ``strategy`` task definition in the local stack (the
  process the workflow's RunBacktest state starts), wall seconds from RunTask to STOPPED: job
  item, registry lookup, source from MLflow, ArcticDB -> feather, Freqtrade, results to S3,
  MLflow and the item;
- direct: ``python -m freqtrade backtesting`` in a fresh process on feather files holding the
  same ArcticDB candles and the same config layers (imports included, as for the container).

    .venv/bin/python benchmarks/bench_backtest.py [--days 90] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from botocore.config import Config
from common import free_port

from tradai.backtests.store import from_item, to_item
from tradai.config.exchange import exchange_layer
from tradai.config.merge import deep_merge
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai.strategies import CONFIGS_DIR, STRATEGIES_DIR
from tradai_sim.exchange.market import Market
from tradai_sim.stack import launcher

PAIRS = ["BTC/USDT", "ETH/USDT"]
STRATEGY = "EmaCrossover"
M5 = 300_000
DAY = 86_400_000
END = pd.Timestamp("2026-04-01", tz="UTC")
BASE_CONFIG = Path(__file__).parents[1] / "platform" / "tradai" / "config" / "base.json"


def wait(pred: Any, timeout: float, interval: float = 0.2) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout} s")


class Bench:
    def __init__(self, endpoint: str, days: int) -> None:
        self.endpoint = endpoint
        self.status: dict[str, Any] = wait(self._seeded, timeout=300)
        res = self.status["resources"]
        self.cluster = res["cluster"]
        self.network = {"awsvpcConfiguration": {
            "subnets": list(res["subnets"]["private"].values()),
            "securityGroups": [res["security_groups"]["strategy-tasks"]],
            "assignPublicIp": "DISABLED"}}
        self.exchange_url = res["endpoints"]["exchange"]
        self.egress_proxy = res["endpoints"]["egress"]  # "the internet" from outside the VPC
        self.library = f"bench_{uuid.uuid4().hex[:8]}"
        self.start = END - pd.Timedelta(days=days)
        self.timerange = f"{self.start:%Y%m%d}-{END:%Y%m%d}"
        self.store = OhlcvStore.from_settings(DataSettings(
            AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION="eu-central-1",
            AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
            TRADAI_BUCKET_ARCTICDB="tradai-local-arcticdb",
            TRADAI_ARCTICDB_LIBRARY=self.library))  # type: ignore[call-arg]

    def _seeded(self) -> dict[str, Any] | None:
        import requests

        status = requests.get(f"{self.endpoint}/_sim/status", timeout=10).json()
        seed = status.get("parts", {}).get("seed", {})
        if seed.get("state") == "failed":
            raise RuntimeError(f"seeding failed: {seed}")
        return status if seed.get("state") == "done" else None

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="eu-central-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 2}))

    def write_market(self) -> float:
        t0 = time.perf_counter()
        market = Market(42, PAIRS)
        first = int(self.start.timestamp() * 1000) - 200 * M5  # room for startup candles
        end_ms = int(END.timestamp() * 1000)
        for pair in PAIRS:
            c = market.candles(pair, "5m", first, (end_ms - first) // M5, end_ms + M5)
            index = pd.DatetimeIndex(pd.to_datetime(c.open_time, unit="ms", utc=True),
                                     name="date")
            self.store.write(SeriesKey("binance", pair, "5m"), pd.DataFrame(
                {"open": c.open, "high": c.high, "low": c.low, "close": c.close,
                 "volume": c.volume}, index=index))
        return time.perf_counter() - t0

    def container(self) -> tuple[float, dict[str, Any]]:
        job_id = str(uuid.uuid4())
        job = {"strategy": STRATEGY, "alias": "champion", "pairs": PAIRS, "timeframe": "5m",
               "timerange": self.timerange}
        ddb = self.client("dynamodb")
        ddb.put_item(TableName="tradai-local-workflow-state", Item=to_item({
            "job_id": job_id, "owner": "bench", "status": "RUNNING", "progress": 10,
            "strategy": STRATEGY, "created_at": "2026-11-26T00:00:00+00:00",
            "request": job, "job": job}))
        ecs = self.client("ecs")
        env = {"TRADAI_MODE": "backtest", "TRADAI_JOB_ID": job_id,
               "TRADAI_ARCTICDB_LIBRARY": self.library}
        t0 = time.perf_counter()
        arn = ecs.run_task(
            cluster=self.cluster, taskDefinition="tradai-local-strategy", launchType="FARGATE",
            networkConfiguration=self.network, overrides={"containerOverrides": [
                {"name": "strategy", "environment": [{"name": k, "value": v}
                                                     for k, v in env.items()]}]}
        )["tasks"][0]["taskArn"]
        task = wait(lambda: (t := ecs.describe_tasks(cluster=self.cluster, tasks=[arn])[
            "tasks"][0])["lastStatus"] == "STOPPED" and t, timeout=900, interval=0.2)
        wall = time.perf_counter() - t0
        code = task["containers"][0].get("exitCode")
        item = from_item(ddb.get_item(TableName="tradai-local-workflow-state",
                                      Key={"job_id": {"S": job_id}})["Item"])
        if code != 0:
            raise RuntimeError(f"container exited {code}: {item.get('error')}")
        return wall, item["result"]

    def direct(self, tmp: Path) -> tuple[float, dict[str, Any]]:
        from freqtrade.data.history import get_datahandler
        from freqtrade.enums import CandleType

        datadir, userdir = tmp / "data", tmp / "user_data"
        userdir.mkdir(parents=True, exist_ok=True)
        handler = get_datahandler(datadir, "feather")
        for pair in PAIRS:
            frame = self.store.read(SeriesKey("binance", pair, "5m"), None,
                                    int(END.timestamp() * 1000) - M5)
            handler.ohlcv_store(pair, "5m", frame.reset_index(), CandleType.SPOT)
        config = deep_merge(json.loads(BASE_CONFIG.read_text()),
                            json.loads((CONFIGS_DIR / f"{STRATEGY}.json").read_text()),
                            exchange_layer(self.exchange_url, self.egress_proxy),
                            {"exchange": {"pair_whitelist": PAIRS}, "dry_run": True})
        (tmp / "config.json").write_text(json.dumps(config))
        export = tmp / "results"
        export.mkdir(exist_ok=True)
        argv = [sys.executable, "-m", "freqtrade", "backtesting", "--config",
                str(tmp / "config.json"), "--userdir", str(userdir), "--datadir", str(datadir),
                "--strategy-path", str(STRATEGIES_DIR), "--timerange", self.timerange,
                "--export", "trades", "--backtest-directory", str(export)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADAI_"))}
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        from freqtrade.data.btanalysis import load_backtest_stats

        stats = load_backtest_stats(export)["strategy"][STRATEGY]
        return wall, stats


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    from tradai.backtests.results import headline

    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp_name:
        tmp = Path(tmp_name)
        state = tmp / "stack"
        (state / "logs").mkdir(parents=True)
        rec = launcher.start(state, free_port(), time_scale=20.0)
        try:
            t0 = time.perf_counter()
            bench = Bench(rec.endpoint, args.days)
            print(f"stack ready + seeded: {time.perf_counter() - t0:.1f} s after start")
            print(f"market data into ArcticDB ({len(PAIRS)} pairs x {args.days} d 5m): "
                  f"{bench.write_market():.2f} s")
            for run in range(args.runs):
                direct_s, direct_stats = bench.direct(tmp / f"direct{run}")
                container_s, result = bench.container()
                expected = headline(direct_stats)
                # The CLI's figures come back through its JSON export (rapidjson), which can
                # move the last bit of a float: equal means equal to 1e-12 relative.
                differs = {k: (result.get(k), expected.get(k)) for k in set(result) | set(expected)
                           if not _same(result.get(k), expected.get(k))}
                same = not differs
                if differs:
                    print("  differs:", differs)
                print(f"run {run + 1}: container {container_s:.1f} s, freqtrade directly "
                      f"{direct_s:.1f} s, ratio {container_s / direct_s:.2f} "
                      f"(overhead {container_s - direct_s:+.1f} s); "
                      f"{result['total_trades']} trades, profit_total "
                      f"{result['profit_total']:.6f}; headline equal: {same}")
        finally:
            launcher.stop(state)


if __name__ == "__main__":
    main()
