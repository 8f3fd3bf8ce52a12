"""Figures for the local cloud: cold ``up`` to ready, emulator call latency, Step Functions
overhead per state, SQS-to-handler delivery latency.

    .venv/bin/python benchmarks/bench_cloud.py [--calls 300] [--messages 30]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import free_port, pct

from tradai_sim.stack import launcher

RECEIVER = """
import json, os, time
def handler(event, context):
    now = time.time()
    with open(os.environ["LOG"], "a") as f:
        for r in event["Records"]:
            f.write(json.dumps({"sent": json.loads(r["body"])["sent"], "got": now}) + "\\n")
    return {"batchItemFailures": []}
"""

NOOP = "def handler(event, context):\n    return event\n"


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-central-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))


def deploy(endpoint: str, name: str, source: str, env: dict[str, str] | None = None) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", source)
    role = client(endpoint, "iam").create_role(
        RoleName=f"bench-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return client(endpoint, "lambda").create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler="handler.handler",
        Code={"ZipFile": buf.getvalue()}, Timeout=30,
        Environment={"Variables": env or {}})["FunctionArn"]


def bench_calls(endpoint: str, n: int) -> dict[str, float]:
    ddb = client(endpoint, "dynamodb")
    table = "tradai-local-workflow-state"
    ddb.put_item(TableName=table, Item={"job_id": {"S": "bench"}})
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        ddb.get_item(TableName=table, Key={"job_id": {"S": "bench"}})
        lat.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": statistics.median(lat), "p99_ms": pct(lat, 0.99)}


def run_execution(sfn: Any, arn: str) -> float:
    ex = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input="{}")[
        "executionArn"]
    t0 = time.perf_counter()
    while sfn.describe_execution(executionArn=ex)["status"] == "RUNNING":
        time.sleep(0.005)
    return time.perf_counter() - t0


def bench_stepfunctions(endpoint: str, states: int = 20) -> dict[str, float]:
    sfn = client(endpoint, "stepfunctions")
    role = "arn:aws:iam::123456789012:role/bench-states"
    fn = deploy(endpoint, "bench-noop", NOOP)
    out = {}
    for kind, state in [
        ("pass", lambda i: {"Type": "Pass"}),
        ("lambda_invoke", lambda i: {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                     "Parameters": {"FunctionName": fn, "Payload": {"i": i}},
                                     "ResultPath": None}),
    ]:
        names = [f"S{i}" for i in range(states)]
        body = {n: {**state(i), **({"Next": names[i + 1]} if i + 1 < states else {"End": True})}
                for i, n in enumerate(names)}
        arn = sfn.create_state_machine(name=f"bench-{kind}", roleArn=role, definition=json.dumps(
            {"StartAt": names[0], "States": body}))["stateMachineArn"]
        run_execution(sfn, arn)  # warm: cold start of the function environment
        runs = [run_execution(sfn, arn) for _ in range(3)]
        out[f"{kind}_ms_per_state"] = statistics.median(runs) * 1000 / states
    return out


def bench_sqs(endpoint: str, messages: int, log: Path) -> dict[str, float]:
    sqs, lam = client(endpoint, "sqs"), client(endpoint, "lambda")
    deploy(endpoint, "bench-receiver", RECEIVER, {"LOG": str(log)})
    url = sqs.create_queue(QueueName="bench-delivery")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    lam.create_event_source_mapping(FunctionName="bench-receiver", EventSourceArn=arn,
                                    BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time()}))  # warm
    while not log.exists():
        time.sleep(0.01)
    log.unlink()
    for _ in range(messages):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time()}))
        time.sleep(0.05)  # paced: latency of one message, not of a backlog
    deadline = time.time() + 60
    rows: list[dict[str, float]] = []
    while time.time() < deadline:
        rows = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        if len(rows) >= messages:
            break
        time.sleep(0.05)
    lat = [(r["got"] - r["sent"]) * 1000 for r in rows]
    return {"p50_ms": statistics.median(lat), "p99_ms": pct(lat, 0.99), "delivered": len(lat)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--messages", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        t0 = time.perf_counter()
        rec = launcher.start(state, free_port(), time_scale=20.0)
        cold_up = time.perf_counter() - t0
        try:
            calls = bench_calls(rec.endpoint, args.calls)
            sfn = bench_stepfunctions(rec.endpoint)
            sqs = bench_sqs(rec.endpoint, args.messages, Path(tmp) / "delivery.jsonl")
        finally:
            launcher.stop(state)
    print(f"cold up to ready:                {cold_up:7.2f} s (wall)")
    print(f"emulator call latency (GetItem): p50 {calls['p50_ms']:6.1f} ms   "
          f"p99 {calls['p99_ms']:6.1f} ms   ({args.calls} calls)")
    print(f"Step Functions overhead:         Pass {sfn['pass_ms_per_state']:6.1f} ms/state   "
          f"lambda:invoke {sfn['lambda_invoke_ms_per_state']:6.1f} ms/state")
    print(f"SQS -> handler delivery:         p50 {sqs['p50_ms']:6.1f} ms   "
          f"p99 {sqs['p99_ms']:6.1f} ms   ({sqs['delivered']:.0f} messages)")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
