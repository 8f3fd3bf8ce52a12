"""Per-request cost of local IAM enforcement: the enforcer judging real SDK requests (captured
from boto3 against the in-process emulator: DynamoDB GetItem, SQS SendMessage, S3 GetObject,
SNS Publish, CloudWatch PutMetricData), replayed N/5 times each, with the caches
warm (the usual case: a role's key and compiled policies are kept) and cold (both caches
cleared before every request, as after an IAM write). The role's policy is the size of the
platform's largest (about 25 statements).

    .venv/bin/python benchmarks/bench_iam_enforcement.py [--requests 10000]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from tradai_sim.cloud import emulator
from tradai_sim.cloud.iam_enforcement.interceptor import IamEnforcer

ACCOUNT, REGION = "123456789012", "eu-central-1"
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [])
    return [b""]


@contextmanager
def running() -> Iterator[str]:
    server = emulator.EmulatorServer("127.0.0.1", 0, _not_found)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def client(endpoint: str, service: str, creds: dict[str, str] | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(retries={"total_max_attempts": 1}), **(creds or ADMIN))


def setup(endpoint: str) -> dict[str, str]:
    ddb = client(endpoint, "dynamodb")
    ddb.create_table(TableName="bench-t", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    client(endpoint, "sqs").create_queue(QueueName="bench-q")
    client(endpoint, "s3").create_bucket(
        Bucket="bench-b", CreateBucketConfiguration={"LocationConstraint": REGION})
    client(endpoint, "s3").put_object(Bucket="bench-b", Key="k", Body=b"x")
    client(endpoint, "sns").create_topic(Name="bench-topic")
    iam = client(endpoint, "iam")
    arn = iam.create_role(RoleName="bench-fn", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    filler = [{"Effect": "Allow", "Action": [f"dynamodb:Op{i}", f"sqs:Op{i}"],
               "Resource": [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other-{i}",
                            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other-{i}/index/*"]}
              for i in range(19)]
    policy = {"Version": "2012-10-17", "Statement": [*filler,
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:"
                                                                       "table/bench-t"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:bench-q"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-b/*"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"},
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
         "Condition": {"StringEquals": {"cloudwatch:namespace": "Bench"}}}]}
    iam.put_role_policy(RoleName="bench-fn", PolicyName="p", PolicyDocument=json.dumps(policy))
    creds = client(endpoint, "sts").assume_role(RoleArn=arn, RoleSessionName="bench")["Credentials"]
    return {"aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}


def capture(endpoint: str, creds: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One real request of each kind, as the emulator's WSGI layer receives it."""
    seen: list[dict[str, Any]] = []

    def keep(environ: dict[str, Any]) -> None:
        raw = b""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)
        seen.append({**{k: v for k, v in environ.items() if isinstance(v, str)}, "_body": raw})
        return None

    emulator.request_interceptors.insert(0, keep)
    calls = {
        "dynamodb GetItem": lambda: client(endpoint, "dynamodb", creds).get_item(
            TableName="bench-t", Key={"k": {"S": "a"}}),
        "sqs SendMessage": lambda: client(endpoint, "sqs", creds).send_message(
            QueueUrl=f"{endpoint}/{ACCOUNT}/bench-q", MessageBody="m"),
        "s3 GetObject": lambda: client(endpoint, "s3", creds).get_object(Bucket="bench-b",
                                                                         Key="k"),
        "sns Publish": lambda: client(endpoint, "sns", creds).publish(
            TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:bench-topic", Message="m"),
        "cloudwatch PutMetricData": lambda: client(endpoint, "cloudwatch", creds)
        .put_metric_data(Namespace="Bench", MetricData=[{"MetricName": "m", "Value": 1.0}]),
    }
    out = {}
    try:
        for name, call in calls.items():
            seen.clear()
            call()
            out[name] = seen[-1]
    finally:
        emulator.request_interceptors.remove(keep)
    return out


def replay(enforcer: IamEnforcer, captured: dict[str, Any], n: int,
           cold: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU (this thread's) seconds per judged request; on a shared machine the wall
    tail is mostly waiting for a core."""
    times, cpu = [], []
    body = captured["_body"]
    for _ in range(n):
        environ = {k: v for k, v in captured.items() if k != "_body"}
        environ["wsgi.input"] = io.BytesIO(body)
        if cold:
            enforcer.principals.invalidate()
            enforcer.principals._compiled.clear()
        start, start_cpu = time.perf_counter(), time.thread_time()
        answer = enforcer(environ)
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        assert answer is None, "the benchmark's requests are all allowed"
    return times, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000, help="judged requests per row")
    args = ap.parse_args()
    with running() as endpoint:
        creds = setup(endpoint)
        requests = capture(endpoint, creds)
    enforcer = IamEnforcer(ACCOUNT, "enforce")
    print(f"{'request':28} {'cache':5} {'wall p50 us':>11} {'p99':>8} {'mean':>8} "
          f"{'cpu p50 us':>11} {'p99':>8}")

    def row(name: str, cold: bool, wall: list[float], cpu: list[float]) -> None:
        q, c = statistics.quantiles(wall, n=100), statistics.quantiles(cpu, n=100)
        print(f"{name:28} {'cold' if cold else 'warm':5} {q[49] * 1e6:11.1f} {q[98] * 1e6:8.1f} "
              f"{statistics.fmean(wall) * 1e6:8.1f} {c[49] * 1e6:11.1f} {c[98] * 1e6:8.1f}")

    for cold in (False, True):
        every: list[float] = []
        every_cpu: list[float] = []
        for name, captured in requests.items():
            replay(enforcer, captured, 200, cold)  # warm-up (imports, regex compiles)
            times, cpu = replay(enforcer, captured, args.requests // len(requests), cold)
            every += times
            every_cpu += cpu
            row(name, cold, times, cpu)
        row(f"all ({len(every)})", cold, every, every_cpu)
    counts = enforcer.records.snapshot()["counts"]
    print(f"judged {counts.get('judged', 0)}, allowed {counts.get('allowed', 0)}, "
          f"denied {counts.get('denied', 0)}, unjudged {counts.get('unjudged', 0)}")


if __name__ == "__main__":
    main()
