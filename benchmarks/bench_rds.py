"""MLflow on the stack's RDS instance (PostgreSQL, the default) versus on SQLite
(``--mlflow-store sqlite``): wall seconds from ``tradai-sim up`` (``launcher.start``) to the
cloud ready, to MLflow healthy and to the examples registered, from a fresh state dir; then
registry ``get_model_version`` (alias, number) p50/p99 through the platform's adapter.

    .venv/bin/python benchmarks/bench_rds.py [--calls 200] [--rounds 1] [--json out.json]

Rounds alternate the stores so a busy machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from bench_registry import latencies, status, wait
from botocore.config import Config
from common import free_port

from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai_sim.stack import launcher

STORES = ("postgres", "sqlite")


def one(store: str, calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-rds-{store}-") as tmp:
        state = Path(tmp) / "stack"
        started = time.time()
        rec = launcher.start(state, free_port(), time_scale=20.0, mlflow_store=store)
        ready = time.time()
        try:
            url = wait(lambda: status(rec.endpoint)["parts"].get("seed", {}).get("mlflow_url"),
                       900, 0.2)
            healthy = time.time()
            seed = wait(lambda: (s := status(rec.endpoint)["parts"]["seed"])["state"]
                        in ("done", "failed") and s, 600, 0.2)
            if seed["state"] != "done":
                raise RuntimeError(f"seeding failed on {store}: {seed['error']}")
            seeded = time.time()
            rds = status(rec.endpoint)["parts"].get("rds") or {}
            s3 = boto3.client("s3", endpoint_url=rec.endpoint, region_name="eu-central-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(retries={"max_attempts": 1}))
            sm = boto3.client("secretsmanager", endpoint_url=rec.endpoint,
                              region_name="eu-central-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")
            creds = json.loads(sm.get_secret_value(
                SecretId="tradai-local-mlflow-basic-auth")["SecretString"])
            # the services' own login (the MLflow client reads it from the environment)
            os.environ["MLFLOW_TRACKING_USERNAME"] = creds["username"]
            os.environ["MLFLOW_TRACKING_PASSWORD"] = creds["password"]
            adapter = MLflowAdapter(str(url), ConfigStore(s3, "tradai-local-configs"))
            lat = {
                "get_model_version(alias)": latencies(
                    lambda: adapter.get_model_version("EmaCrossover", "champion"), calls),
                "get_model_version(number)": latencies(
                    lambda: adapter.get_model_version("EmaCrossover", 1), calls),
            }
        finally:
            launcher.stop(state)
    return {"store": store, "cloud_ready_s": ready - started, "mlflow_healthy_s":
            healthy - started, "seeded_s": seeded - started,
            "postgres_start_s": rds.get("start_seconds"), "latency": lat}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    runs = [one(store, args.calls) for _ in range(args.rounds) for store in STORES]
    for store in STORES:
        mine = [r for r in runs if r["store"] == store]
        med = {k: statistics.median(r[k] for r in mine)
               for k in ("cloud_ready_s", "mlflow_healthy_s", "seeded_s")}
        print(f"{store:8s} up -> cloud ready {med['cloud_ready_s']:6.1f} s, MLflow healthy "
              f"{med['mlflow_healthy_s']:6.1f} s, examples registered {med['seeded_s']:6.1f} s"
              f" (median of {len(mine)})")
        if store == "postgres":
            print(f"         PostgreSQL initdb + start (overlaps the bootstrap): "
                  f"{statistics.median(r['postgres_start_s'] or 0 for r in mine):.1f} s")
        for label in mine[0]["latency"]:
            p50 = statistics.median(r["latency"][label]["p50_ms"] for r in mine)
            p99 = statistics.median(r["latency"][label]["p99_ms"] for r in mine)
            print(f"         {label:27s} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms "
                  f"({args.calls} calls)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
