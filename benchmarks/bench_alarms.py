"""Figure for CloudWatch alarms in the local cloud: wall time from a message landing on the
backtest DLQ to the DLQ alarm's ALARM notification on the alerts topic. SQS metrics are sampled
once a simulated minute and alarms evaluated right after, so at scale S the wait is up to
60/S wall seconds plus the work.

    .venv/bin/python benchmarks/bench_alarms.py [--rounds 5] [--time-scale 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from common import free_port

from tradai_sim.stack import launcher

ALARM = "tradai-local-backtest-dlq-not-empty"
DLQ = "tradai-local-backtest-dlq.fifo"


def published(endpoint: str, since: float) -> list[dict[str, Any]]:
    answer = requests.get(f"{endpoint}/_sim/sns/published", params={"since": since}, timeout=10)
    return list(answer.json()["messages"])


def notice(endpoint: str, state: str, since: float, timeout: float = 120) -> dict[str, Any]:
    subject = f'{state}: "{ALARM}" in Europe (Frankfurt)'
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [m for m in published(endpoint, since) if m["subject"] == subject]
        if found:
            return found[0]
        time.sleep(0.02)
    raise TimeoutError(f"no {state} notification within {timeout} s")


def now(endpoint: str) -> float:
    """Simulated now (asking for messages from the far future lists none)."""
    return float(requests.get(f"{endpoint}/_sim/sns/published", params={"since": 1e12},
                              timeout=10).json()["simulated_now"])


def round_trip(endpoint: str, sqs: Any, url: str, scale: float) -> float:
    # land at a random point of the simulated minute: the wait depends on it
    time.sleep(random.uniform(0, 60 / scale))
    since = now(endpoint)
    marker = uuid.uuid4().hex
    sent = time.time()
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"bench": marker}),
                     MessageGroupId="bench", MessageDeduplicationId=marker)
    alarm = notice(endpoint, "ALARM", since)
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    notice(endpoint, "OK", since)
    return float(alarm["wall_time"]) - sent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--time-scale", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        rec = launcher.start(state, free_port(), time_scale=args.time_scale)
        try:
            sqs = boto3.client("sqs", endpoint_url=rec.endpoint, region_name="eu-central-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing",
                               config=Config(retries={"max_attempts": 1}))
            url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
            notice(rec.endpoint, "OK", 0.0)  # the alarm's first evaluation happened
            latencies = [round_trip(rec.endpoint, sqs, url, args.time_scale)
                         for _ in range(args.rounds)]
        finally:
            launcher.stop(state)
    print(f"DLQ message -> ALARM notification at time scale {args.time_scale:g}: "
          f"median {statistics.median(latencies):5.2f} s   min {min(latencies):5.2f} s   "
          f"max {max(latencies):5.2f} s (wall, {args.rounds} rounds; bound "
          f"{60 / args.time_scale:.2f} s + work)")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
