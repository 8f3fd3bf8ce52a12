"""Latency through the API gateway stand-in (gateway -> ALB -> backend -> DynamoDB/SQS/MLflow)
at a fixed concurrency: backtest submission (target < 100 ms, pattern 2), status and strategy
list queries (target < 200 ms, pattern 1).

    .venv/bin/python benchmarks/bench_gateway.py [--concurrency 10] [--requests 200]

Starts its own local cloud (the rate limit raised so the load is not refused), stops it after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.cloud import RunningCloud, start_cloud, wait_for

os.environ["TRADAI_SIM_GATEWAY_RATE_LIMIT"] = "1000000/300"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def token(cloud: RunningCloud) -> str:
    cognito = cloud.status()["resources"]["cognito"]
    creds = json.loads((cloud.state_dir / "dev-user.json").read_text())
    return str(cloud.client("cognito-idp").admin_initiate_auth(
        UserPoolId=cognito["user_pool_id"], ClientId=cognito["client_id"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": creds["username"], "PASSWORD": creds["password"]})[
        "AuthenticationResult"]["AccessToken"])


def measure(calls: list[Callable[[httpx.Client], httpx.Response]], concurrency: int,
            clients: list[httpx.Client]) -> dict[str, Any]:
    def timed(i: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        status = calls[i](clients[i % concurrency]).status_code
        return (time.perf_counter() - t0) * 1000, status
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(timed, range(len(calls))))
    wall = time.perf_counter() - t0
    ms = [r[0] for r in results]
    codes: dict[int, int] = {}
    for _, c in results:
        codes[c] = codes.get(c, 0) + 1
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
            "mean_ms": statistics.fmean(ms), "per_s": len(ms) / wall, "codes": codes}


@contextlib.contextmanager
def consumer_paused(cloud: RunningCloud) -> Any:
    """Measure the edge, not the backtests: hold the queue's consumer if there is one, and
    drain the queue meanwhile (moto's FIFO send rescans the whole queue: at 100 waiting
    messages a send takes ~33 ms instead of ~3 ms, which AWS does not do)."""
    lam = cloud.client("lambda")
    arn = cloud.status()["resources"]["queues"]["arns"]["backtest-queue.fifo"]
    ids = [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]
           if m["EventSourceArn"] == arn]
    for i in ids:
        lam.update_event_source_mapping(UUID=i, Enabled=False)
    sqs = cloud.client("sqs")
    url = cloud.status()["resources"]["queues"]["urls"]["backtest-queue.fifo"]
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
            if msgs:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(msgs)])
    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        yield
    finally:
        stop.set()
        drainer.join(timeout=5)
        sqs.purge_queue(QueueUrl=url)
        for i in ids:
            lam.update_event_source_mapping(UUID=i, Enabled=True)


def run(concurrency: int, requests: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    cloud = start_cloud(state, time_scale=20.0, timeout=120)
    try:
        gateway = cloud.status()["resources"]["endpoints"]["gateway"]
        headers = {"Authorization": f"Bearer {token(cloud)}"}
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]  # as the tradai CLI does
        clients = [httpx.Client(base_url=gateway, headers=headers, timeout=30,
                                transport=httpx.HTTPTransport(socket_options=nodelay))
                   for _ in range(concurrency)]
        listed = wait_for(lambda: (r := clients[0].get("/api/v1/strategies")).status_code
                          == 200 and r.json()["strategies"], timeout=120, interval=1)
        name = listed[0]["name"]
        body = {"strategy": name, "pairs": ["BTC/USDT"], "timeframe": "5m",
                "timerange": "20240101-20240301"}
        out: dict[str, Any] = {"strategy": name}
        with consumer_paused(cloud):
            for c in clients:  # warm connections and caches
                c.get("/api/v1/backtests")
            out["submit"] = measure([
                lambda c: c.post("/api/v1/backtests", json=body,
                                 headers={"Idempotency-Key": uuid.uuid4().hex})
                for _ in range(requests)], concurrency, clients)
            jobs = [b["job_id"] for b in clients[0].get(
                "/api/v1/backtests", params={"limit": 50}).json()["backtests"]]
            paths = [f"/api/v1/backtests/{jobs[i % len(jobs)]}" for i in range(requests)]
            out["status"] = measure([lambda c, p=p: c.get(p) for p in paths], concurrency,
                                    clients)
            out["strategies"] = measure([lambda c: c.get("/api/v1/strategies")
                                         for _ in range(requests)], concurrency, clients)
        for c in clients:
            c.close()
        return out
    finally:
        cloud.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    res = run(args.concurrency, args.requests)
    targets = {"submit": 100, "status": 200, "strategies": 200}
    print(f"through the gateway, concurrency {args.concurrency}, {args.requests} requests each "
          f"({os.cpu_count()} cores)")
    for key, target in targets.items():
        r = res[key]
        verdict = "ok" if r["p99_ms"] < target else "over"
        print(f"{key:<11} p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
              f"mean {r['mean_ms']:6.1f} ms  {r['per_s']:6.1f}/s  codes {r['codes']}  "
              f"(target p99 < {target} ms: {verdict})")


if __name__ == "__main__":
    main()
