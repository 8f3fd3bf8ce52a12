"""Figures for the strategy registry: MLflow startup (in the stack, and the service entrypoint
alone on a fresh and on an existing SQLite store), seeding time, and the latency of
``get_model_version`` (alias, number, latest) and ``list_strategies``.

    .venv/bin/python benchmarks/bench_registry.py [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from common import free_port, pct

from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai_sim.stack import launcher


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait(pred: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"not within {timeout} s")


def status(endpoint: str) -> dict[str, Any]:
    return dict(requests.get(f"{endpoint}/_sim/status", timeout=10).json())


def in_stack(endpoint: str) -> dict[str, float]:
    """From the cloud being ready to MLflow answering, and to the examples registered."""
    ready = time.time()
    wait(lambda: status(endpoint)["parts"].get("seed", {}).get("mlflow_url"), 180, 0.2)
    healthy_at = time.time()
    seed = wait(lambda: (s := status(endpoint)["parts"]["seed"])["state"] in ("done", "failed")
                and s, 120, 0.2)
    if seed["state"] != "done":
        raise RuntimeError(f"seeding failed: {seed['error']}")
    return {"mlflow_healthy_s": healthy_at - ready, "seeded_s": time.time() - ready,
            "url": seed["mlflow_url"]}  # type: ignore[dict-item]


def standalone_start(endpoint: str, data_dir: Path) -> float:
    """The MLflow service entrypoint alone, against the stack's S3: seconds to /health."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADAI_"))}
    env.update({"PORT": str(port), "TRADAI_MLFLOW_DATA_DIR": str(data_dir),
                "TRADAI_BUCKET_MLFLOW_ARTIFACTS": "tradai-local-mlflow-artifacts",
                "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-central-1"})
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "tradai.services.mlflow_server"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait(lambda: healthy(f"http://127.0.0.1:{port}"), 120, 0.1)
        return time.time() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def latencies(fn: Callable[[], Any], calls: int) -> dict[str, float]:
    fn()  # warm (connection pool, server caches)
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": statistics.median(times), "p99_ms": pct(times, 0.99)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        state = Path(tmp) / "stack"
        rec = launcher.start(state, free_port(), time_scale=20.0)
        try:
            stack = in_stack(rec.endpoint)
            s3 = boto3.client("s3", endpoint_url=rec.endpoint, region_name="eu-central-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(retries={"max_attempts": 1}))
            adapter = MLflowAdapter(str(stack["url"]), ConfigStore(s3, "tradai-local-configs"))
            results = {
                "get_model_version(alias)": latencies(
                    lambda: adapter.get_model_version("EmaCrossover", "champion"), args.calls),
                "get_model_version(number)": latencies(
                    lambda: adapter.get_model_version("EmaCrossover", 1), args.calls),
                "get_model_version(latest)": latencies(
                    lambda: adapter.get_model_version("EmaCrossover", "latest"), args.calls),
                "list_strategies": latencies(adapter.list_strategies, args.calls),
            }
            cold = standalone_start(rec.endpoint, Path(tmp) / "fresh")
            warm = standalone_start(rec.endpoint, Path(tmp) / "fresh")
        finally:
            launcher.stop(state)
    print(f"MLflow healthy after the stack is ready: {stack['mlflow_healthy_s']:6.1f} s (wall)")
    print(f"examples registered after ready:         {stack['seeded_s']:6.1f} s")
    print(f"MLflow service start, new SQLite store:  {cold:6.1f} s")
    print(f"MLflow service start, existing store:    {warm:6.1f} s")
    for label, r in results.items():
        print(f"{label:27s} p50 {r['p50_ms']:6.1f} ms   p99 {r['p99_ms']:6.1f} ms "
              f"({args.calls} calls)")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
