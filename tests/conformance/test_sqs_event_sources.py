"""SQS event-source mapping conformance: creation-time validation, the batching window,
throttling, and the visibility timeout in the time model (wall while the function works,
simulated for the wait after a failure). The cloud runs at time scale 20.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.cloud import RunningCloud, create_queue, deploy_lambda, wait_for

RECORDER = """
import json, os, time
def handler(event, context):
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps({"t": time.time(), "ids": [r["messageId"] for r in event["Records"]],
                            "receives": [r["attributes"]["ApproximateReceiveCount"]
                                         for r in event["Records"]]}) + "\\n")
    if os.environ.get("SLEEP"):
        time.sleep(float(os.environ["SLEEP"]))
    if os.environ.get("FAIL"):
        raise RuntimeError("batch fails")
"""


BACKING_OFF = """
import json, os, time, boto3
def handler(event, context):
    sqs = boto3.client("sqs")
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps({"t": time.time(), "ids": [r["messageId"] for r in event["Records"]],
                            "receives": [r["attributes"]["ApproximateReceiveCount"]
                                         for r in event["Records"]]}) + "\\n")
    for r in event["Records"]:  # the consumer's own backoff, as the backtest consumer does
        sqs.change_message_visibility(QueueUrl=os.environ["QUEUE_URL"],
                                      ReceiptHandle=r["receiptHandle"],
                                      VisibilityTimeout=int(os.environ["BACKOFF"]))
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"]]}
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _fn(cloud: RunningCloud, tmp_path: Path, prefix: str, **env: str) -> tuple[str, Path]:
    log = tmp_path / f"{prefix}.jsonl"
    name = _name(prefix)
    timeout = int(float(env.get("SLEEP", "0"))) + 5
    deploy_lambda(cloud, name, RECORDER, environment={"LOG": str(log), **env}, timeout=timeout)
    return name, log


@pytest.mark.parametrize(("fifo", "batch", "window", "message"), [
    (False, 11, None, "Maximum batch window in seconds must be greater than 0 if maximum "
                      "batch size is greater than 10"),
    (False, 10_001, 5, "Maximum batch size must be between 1 and 10000 inclusive"),
    (True, 11, None, "Maximum batch size must be between 1 and 10 inclusive"),
])
def test_sqs_mapping_batch_size_beyond_the_limits_is_refused(
        cloud: RunningCloud, tmp_path: Path, fifo: bool, batch: int, window: int | None,
        message: str) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html and
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
    (BatchSize: standard at most 10,000, FIFO at most 10; above 10 requires
    MaximumBatchingWindowInSeconds >= 1): refused with InvalidParameterValueException at
    creation and at update, not accepted to stall."""
    fn, _ = _fn(cloud, tmp_path, "t-esmval")
    suffix = ".fifo" if fifo else ""
    attrs = {"FifoQueue": "true"} if fifo else {}
    _, arn = create_queue(cloud, _name("t-esmval") + suffix, attrs)
    lam = cloud.client("lambda")
    extra = {} if window is None else {"MaximumBatchingWindowInSeconds": window}

    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=batch,
                                        **extra)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert err.value.response["Error"]["Message"] == message
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    esm = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=10,
                                          Enabled=False)
    with pytest.raises(ClientError) as err:
        lam.update_event_source_mapping(UUID=esm["UUID"], BatchSize=batch, **extra)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.get_event_source_mapping(UUID=esm["UUID"])["BatchSize"] == 10


def test_a_queue_whose_visibility_is_shorter_than_the_function_timeout_is_refused(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """"Your function's timeout must be less than or equal to the queue's visibility timeout.
    Lambda validates this requirement when you create or update an event source mapping and
    will return an error" - https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
    (the message is the one Lambda answers)."""
    fn, _ = _fn(cloud, tmp_path, "t-esmvis", SLEEP="10")  # timeout 15 s
    _, short = create_queue(cloud, _name("t-esmvis"), {"VisibilityTimeout": "14"})
    lam = cloud.client("lambda")
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=short, BatchSize=1)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert err.value.response["Error"]["Message"] == (
        "Queue visibility timeout: 14 seconds is less than Function timeout: 15 seconds")
    _, equal = create_queue(cloud, _name("t-esmvis"), {"VisibilityTimeout": "15"})
    esm = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=equal, BatchSize=1,
                                          Enabled=False)
    assert esm["EventSourceArn"] == equal


def test_batching_window_gathers_messages_into_one_batch(cloud: RunningCloud,
                                                        tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html (batching
    behavior): with MaximumBatchingWindowInSeconds, Lambda gathers records until the batch is
    full, the window expires, or the payload reaches 6 MB. Window 60 simulated s = 3 wall s."""
    fn, log = _fn(cloud, tmp_path, "t-window")
    url, arn = create_queue(cloud, _name("t-window"), {"VisibilityTimeout": "120"})
    sqs = cloud.client("sqs")
    cloud.client("lambda").create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, BatchSize=50, MaximumBatchingWindowInSeconds=60,
        ScalingConfig={"MaximumConcurrency": 2})
    time.sleep(2)  # the pollers are running (mappings are followed every second)
    ids = []
    for burst in range(3):  # 12 messages over ~1 wall s, inside the window
        for entry in sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"{burst}-{i}"} for i in range(4)])["Successful"]:
            ids.append(entry["MessageId"])
        time.sleep(0.5)

    wait_for(lambda: sum(len(c["ids"]) for c in _calls(log)) >= 12, timeout=30)
    calls = _calls(log)
    # Two pollers may each gather a batch; without the window the 12 would arrive in 3+.
    assert len(calls) <= 2, [len(c["ids"]) for c in calls]
    assert sorted(i for c in calls for i in c["ids"]) == sorted(ids)


def test_throttled_invocation_keeps_its_messages_until_the_visibility_timeout(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html and
    with-sqs.html: when the function is throttled, the batch stays in the queue and becomes
    visible again after the visibility timeout (receive count rising, then the queue's DLQ)."""
    fn, log = _fn(cloud, tmp_path, "t-throttle")
    cloud.client("lambda").put_function_concurrency(FunctionName=fn,
                                                    ReservedConcurrentExecutions=0)
    sqs = cloud.client("sqs")
    dlq, dlq_arn = create_queue(cloud, _name("t-throttle-dlq"))
    url, arn = create_queue(cloud, _name("t-throttle"), {
        "VisibilityTimeout": "60",  # 3 wall s of waiting at scale 20
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    started = time.time()
    cloud.client("lambda").create_event_source_mapping(FunctionName=fn, EventSourceArn=arn,
                                                       BatchSize=1)

    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get(
        "Messages"), timeout=40)
    assert moved[0]["Body"] == "kept"
    # Two throttled receives, each kept for the (simulated) 60 s visibility: >= 3 wall s.
    assert time.time() - started >= 3
    assert not log.exists()  # the function never ran


def test_visibility_timeout_holds_while_the_function_runs(cloud: RunningCloud,
                                                          tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html: a message read by the
    poller stays invisible for the queue's visibility timeout while the function works (AWS
    advises at least 6 x the function timeout). Visibility 60 s, handler 5 wall s: one
    delivery (a visibility scaled to 60/20 = 3 s would redeliver during the run)."""
    fn, log = _fn(cloud, tmp_path, "t-vis-run", SLEEP="5")
    url, arn = create_queue(cloud, _name("t-vis-run"), {"VisibilityTimeout": "60"})
    sqs = cloud.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    cloud.client("lambda").create_event_source_mapping(FunctionName=fn, EventSourceArn=arn,
                                                       BatchSize=1)

    wait_for(lambda: _calls(log), timeout=30)
    wait_for(lambda: int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])[
        "Attributes"]["ApproximateNumberOfMessagesNotVisible"]) == 0, timeout=30)
    time.sleep(1)
    calls = _calls(log)
    assert len(calls) == 1, calls
    assert calls[0]["receives"] == ["1"]


def test_failed_message_returns_after_the_visibility_timeout_in_simulated_time(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html: after a
    failed invocation the batch becomes visible again when the visibility timeout ends. The
    rest of the timeout is waiting, so it passes in simulated time: 60 s is ~3 wall s."""
    fn, log = _fn(cloud, tmp_path, "t-vis-fail", FAIL="1")
    url, arn = create_queue(cloud, _name("t-vis-fail"), {"VisibilityTimeout": "60"})
    cloud.client("sqs").send_message(QueueUrl=url, MessageBody="fails")
    cloud.client("lambda").create_event_source_mapping(FunctionName=fn, EventSourceArn=arn,
                                                       BatchSize=1)

    wait_for(lambda: len(_calls(log)) >= 2, timeout=30)
    first, second = _calls(log)[:2]
    assert (first["receives"], second["receives"]) == (["1"], ["2"])
    gap_sim = (second["t"] - first["t"]) * cloud.time_scale
    assert 40 <= gap_sim <= 140, gap_sim  # the 60 s visibility, in simulated time


def test_a_visibility_the_function_set_itself_is_left_alone(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html: Lambda
    does not touch a failed message's visibility; it returns when its visibility ends, so a
    consumer that shortened it (a backoff) sees it again then. Here: the queue's 600 s would
    be 30 wall s at scale 20; the function's backoff is 1 s."""
    url, arn = create_queue(cloud, _name("t-backoff"), {"VisibilityTimeout": "600"})
    log = tmp_path / "t-backoff.jsonl"
    fn = _name("t-backoff")
    deploy_lambda(cloud, fn, BACKING_OFF, timeout=10,
                  environment={"LOG": str(log), "QUEUE_URL": url, "BACKOFF": "1"})
    cloud.client("sqs").send_message(QueueUrl=url, MessageBody="backs off")
    cloud.client("lambda").create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, BatchSize=1,
        FunctionResponseTypes=["ReportBatchItemFailures"])

    calls = wait_for(lambda: len(c := _calls(log)) >= 2 and c, timeout=60)
    assert [c["receives"] for c in calls[:2]] == [["1"], ["2"]]
    assert calls[1]["t"] - calls[0]["t"] < 15, calls  # not the queue's 30 wall s
