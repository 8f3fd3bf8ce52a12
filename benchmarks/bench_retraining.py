"""One retraining run in the local cloud: wall time and simulated duration from an operator's
``POST /api/v1/strategies/{name}/retrain`` to the run COMPLETED (queue, consumer, check,
candles, training in the strategy container, registration and validation in the
strategy-service-task, the champion's and the challenger's backtests through the backtest
path, the decision, promotion), with the time of each step from the execution's history.

The champion is ModelProbability trained on the 14 days before the challenger's window
(as tests/integration/test_retraining_workflow.py registers it); one pair (BTC/USDT 5m),
the deployment's windows (train 14 days, compare 7), margin -1 (promoted).

    .venv/bin/python benchmarks/bench_retraining.py [--endpoint http://127.0.0.1:PORT]

Without ``--endpoint`` a local cloud (time scale 20) is started and stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.cloud import RunningCloud, start_cloud, wait_for  # noqa: E402
from tests.integration.stack_clock import stack_clock  # noqa: E402
from tests.integration.test_edge_gateway import Edge  # noqa: E402
from tests.integration.test_mlflow_registry import mlflow_task  # noqa: E402
from tests.integration.test_retraining_workflow import (  # noqa: E402
    STRATEGY,
    register_champion,
)


def steps(cloud: RunningCloud, execution_arn: str) -> dict[str, float]:
    """Wall seconds each state took (entered -> exited), from the execution's history."""
    events = cloud.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000)["events"]
    entered: dict[str, Any] = {}
    took: dict[str, float] = {}
    for e in events:
        if e["type"].endswith("StateEntered"):
            entered[e["stateEnteredEventDetails"]["name"]] = e["timestamp"]
        elif e["type"].endswith("StateExited"):
            name = e["stateExitedEventDetails"]["name"]
            if name in entered:
                took[name] = round(took.get(name, 0.0) + (
                    e["timestamp"] - entered.pop(name)).total_seconds(), 2)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", help="a running local cloud (else one is started)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-retrain-"))
    cloud = (RunningCloud(args.endpoint, tmp, None, 20.0) if args.endpoint
             else start_cloud(tmp / "cloud", time_scale=20.0, timeout=180))
    try:
        import os

        creds = json.loads(cloud.client("secretsmanager").get_secret_value(
            SecretId=cloud.name("mlflow-basic-auth"))["SecretString"])
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", creds["username"])
        os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", creds["password"])
        edge = Edge(cloud)
        wait_for(lambda: edge.healthy("backend-api"), timeout=120)
        wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=300,
                 interval=1)
        task = wait_for(lambda: mlflow_task(cloud), timeout=120, interval=1)
        champion = register_champion(cloud, f"http://127.0.0.1:{task['port']}")
        token = edge.user(groups=("operator",))["access"]
        clock, _ = stack_clock(cloud)
        sim_start, started = clock.now(), time.perf_counter()
        resp = edge.post(f"/api/v1/strategies/{STRATEGY}/retrain", token,
                         {"reason": "benchmark", "margin": -1.0})
        resp.raise_for_status()
        run_id = resp.json()["run_id"]

        def done() -> dict[str, Any] | None:
            runs = edge.get("/api/v1/retraining", token, params={"strategy": STRATEGY}).json()
            run = next((r for r in runs["runs"] if r["run_id"] == run_id), None)
            return run if run and run["state"] in ("COMPLETED", "FAILED") else None

        run = wait_for(done, timeout=1800, interval=0.5)
        wall, sim = time.perf_counter() - started, clock.now() - sim_start
        if run["state"] != "COMPLETED":
            raise RuntimeError(f"run {run_id} failed: {run.get('reason')}")
        print(json.dumps({
            "retraining_run": {
                "wall_s": round(wall, 1), "simulated_s": round(sim, 1),
                "time_scale": clock.scale, "decision": run["decision"],
                "champion": champion, "challenger": run["challenger_version"],
                "champion_profit": run["champion_metrics"].get("profit_total"),
                "challenger_profit": run["challenger_metrics"].get("profit_total"),
                "compare_timerange": run["compare_timerange"],
                "train_timerange": run["train_timerange"]},
            "steps_wall_s": steps(cloud, run["execution_arn"]),
        }, indent=2))
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
