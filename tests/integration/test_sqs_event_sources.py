"""SQS event-source mappings with AWS semantics: delete on success, partial batch failures,
receive counts and the DLQ after maxReceiveCount, FIFO group order."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for

RECORDER = """
import json, os
def handler(event, context):
    failures = []
    with open(os.environ["LOG"], "a") as f:
        for r in event["Records"]:
            body = json.loads(r["body"])
            f.write(json.dumps({"id": r["messageId"], "body": body,
                                "receives": r["attributes"]["ApproximateReceiveCount"],
                                "group": r["attributes"].get("MessageGroupId")}) + "\\n")
            if body.get("fail"):
                failures.append({"itemIdentifier": r["messageId"]})
    if os.environ.get("RAISE"):
        raise RuntimeError("whole batch fails")
    return {"batchItemFailures": failures}
"""


def _queue_pair(cloud: RunningCloud, name: str, max_receive: int, visibility: int = 10,
                fifo: bool = False) -> tuple[str, str, str]:
    sqs = cloud.client("sqs")
    suffix = ".fifo" if fifo else ""
    attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=attrs)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    q = sqs.create_queue(QueueName=f"{name}{suffix}", Attributes={
        **attrs, "VisibilityTimeout": str(visibility),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": max_receive})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return q, arn, dlq


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _map(cloud: RunningCloud, fn: str, arn: str, batch: int) -> None:
    cloud.client("lambda").create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, BatchSize=batch,
        FunctionResponseTypes=["ReportBatchItemFailures"])


def test_failing_message_reaches_dlq_after_exactly_max_receive_count(
    cloud: RunningCloud, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    deploy_lambda(cloud, "t-esm-raise", RECORDER, environment={"LOG": str(log), "RAISE": "1"})
    q, arn, dlq = _queue_pair(cloud, "t-esm-raise", max_receive=3)
    sqs = cloud.client("sqs")
    sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"n": 1}))
    _map(cloud, "t-esm-raise", arn, 1)

    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get(
        "Messages"), timeout=30)
    assert json.loads(moved[0]["Body"]) == {"n": 1}
    receives = [int(r["receives"]) for r in _records(log)]
    assert receives == [1, 2, 3]  # exactly maxReceiveCount deliveries, counts rising


def test_partial_batch_failure_deletes_only_the_successes(
    cloud: RunningCloud, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    deploy_lambda(cloud, "t-esm-partial", RECORDER, environment={"LOG": str(log)})
    q, arn, dlq = _queue_pair(cloud, "t-esm-partial", max_receive=2)
    sqs = cloud.client("sqs")
    sqs.send_message_batch(QueueUrl=q, Entries=[
        {"Id": str(i), "MessageBody": json.dumps({"n": i, "fail": i == 2})} for i in range(4)])
    _map(cloud, "t-esm-partial", arn, 10)

    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get(
        "Messages"), timeout=30)
    assert [json.loads(m["Body"])["n"] for m in moved] == [2]
    by_n: dict[int, int] = {}
    for r in _records(log):
        by_n[r["body"]["n"]] = by_n.get(r["body"]["n"], 0) + 1
    assert by_n == {0: 1, 1: 1, 2: 2, 3: 1}  # successes delivered once, the failure twice


def test_fifo_group_order_is_kept(cloud: RunningCloud, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    deploy_lambda(cloud, "t-esm-fifo", RECORDER, environment={"LOG": str(log)})
    # A visibility timeout well above the handler's time, so no message is redelivered on a
    # busy machine: every message once, each group in order.
    q, arn, _ = _queue_pair(cloud, "t-esm-fifo", max_receive=3, visibility=60, fifo=True)
    sqs = cloud.client("sqs")
    for i in range(6):
        sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"n": i, "g": i % 2}),
                         MessageGroupId=f"g{i % 2}")
    _map(cloud, "t-esm-fifo", arn, 2)

    wait_for(lambda: len(_records(log)) >= 6, timeout=30)
    for group in ("g0", "g1"):
        seen = [r["body"]["n"] for r in _records(log) if r["group"] == group]
        assert seen == sorted(seen)
    wait_for(lambda: int(sqs.get_queue_attributes(QueueUrl=q, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]) == 0)
    assert sorted(r["body"]["n"] for r in _records(log)) == list(range(6))
