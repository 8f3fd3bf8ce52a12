"""DLQ redrive through the emulator's SQS API (boto3, JSON protocol) with the redrive
patches in place: the three operations answer in SQS's shapes and error codes, and a move
into a FIFO dead-letter queue records the source queue and takes the message id as
deduplication id.

References: SQS API reference, StartMessageMoveTask / ListMessageMoveTasks /
CancelMessageMoveTask / ReceiveMessage (DeadLetterQueueSourceArn); developer guide, "Learn how
to configure a dead-letter queue redrive" (https://docs.aws.amazon.com/AWSSimpleQueueService/
latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.unit.fis_fakes import until
from tests.unit.redrive_emulator import redrive_emulator
from tradai.clock import Clock


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with redrive_emulator(Clock(scale=100.0)) as endpoint:
        yield boto3.client("sqs", endpoint_url=endpoint, region_name="eu-central-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(retries={"total_max_attempts": 1}))


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"])


def _fifo_pair(sqs: Any) -> tuple[str, str, str, str]:
    name = f"wire-{uuid.uuid4().hex[:8]}"
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes=fifo)["QueueUrl"]
    src = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={**fifo, "RedrivePolicy":
                           json.dumps({"deadLetterTargetArn": _arn(sqs, dlq),
                                       "maxReceiveCount": 1})})["QueueUrl"]
    return src, _arn(sqs, src), dlq, _arn(sqs, dlq)


def _fail_into_dlq(sqs: Any, src: str) -> None:
    """Receive without deleting: the next receive moves the message to the DLQ."""
    assert sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return (exc.value.response["Error"]["Code"],
            exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_fifo_dlq_takes_the_message_id_as_dedup_id_and_records_the_source(sqs: Any) -> None:
    src, src_arn, dlq, _ = _fifo_pair(sqs)
    sent = sqs.send_message(QueueUrl=src, MessageBody="m", MessageGroupId="g",
                            MessageDeduplicationId="d-1")["MessageId"]
    _fail_into_dlq(sqs, src)
    [m] = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"],
                              VisibilityTimeout=0)["Messages"]
    assert m["MessageId"] == sent
    assert m["Attributes"]["MessageDeduplicationId"] == sent
    assert m["Attributes"]["MessageGroupId"] == "g"
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == src_arn


def test_fifo_dlq_keeps_two_messages_that_shared_a_dedup_id_in_their_sources(sqs: Any) -> None:
    """"This is to make sure that the DLQ deduplication will not prevent storing of two
    independent messages that happen to share a deduplication ID." (developer guide)"""
    src1, _, dlq, dlq_arn = _fifo_pair(sqs)
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    src2 = sqs.create_queue(QueueName=f"second-{uuid.uuid4().hex[:8]}.fifo", Attributes={
        **fifo, "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                             "maxReceiveCount": 1})})["QueueUrl"]
    for url in (src1, src2):
        sqs.send_message(QueueUrl=url, MessageBody=url, MessageGroupId="g",
                         MessageDeduplicationId="shared")
        _fail_into_dlq(sqs, url)
    got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert sorted(m["Body"] for m in got["Messages"]) == sorted([src1, src2])


def test_start_message_move_task_returns_fifo_messages_to_their_source(sqs: Any) -> None:
    src, src_arn, _, dlq_arn = _fifo_pair(sqs)
    sent = sqs.send_message(QueueUrl=src, MessageBody="again", MessageGroupId="owner-1",
                            MessageDeduplicationId="d-2")["MessageId"]
    _fail_into_dlq(sqs, src)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    back = until(lambda: sqs.receive_message(
        QueueUrl=src, MessageSystemAttributeNames=["All"]).get("Messages"), timeout=10)
    [m] = back
    assert m["Body"] == "again" and m["MessageId"] != sent  # a new message ...
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"  # ... received once so far
    assert m["Attributes"]["MessageGroupId"] == "owner-1"
    assert m["Attributes"]["MessageDeduplicationId"] == sent
    [task] = until(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)[
        "Results"] if t["Status"] == "COMPLETED"], timeout=10)
    assert task["ApproximateNumberOfMessagesMoved"] == task[
        "ApproximateNumberOfMessagesToMove"] == 1
    assert "TaskHandle" not in task and "DestinationArn" not in task
    assert src_arn.endswith(".fifo")
    sqs.delete_message(QueueUrl=src, ReceiptHandle=m["ReceiptHandle"])


def test_errors_come_in_the_sqs_json_error_shape(sqs: Any) -> None:
    _, src_arn, _, dlq_arn = _fifo_pair(sqs)
    with pytest.raises(ClientError) as exc:
        sqs.start_message_move_task(SourceArn=src_arn)
    assert _error(exc) == ("InvalidParameterValue", 400)
    assert exc.value.response["Error"]["Message"] == (
        "Source queue must be configured as a Dead Letter Queue.")
    with pytest.raises(ClientError) as exc:
        sqs.start_message_move_task(SourceArn=dlq_arn + "-gone")
    assert _error(exc) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501)
    assert _error(exc) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as exc:
        sqs.cancel_message_move_task(TaskHandle="foobared")
    assert _error(exc) == ("InvalidParameterValue", 400)
    assert sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"] == []
