"""DLQ redrive in the running cloud, through its SQS API as any AWS SDK calls it: message move
tasks back to the source (standard and FIFO), at the requested rate in simulated time, one
active task per queue, cancel; a FIFO DLQ takes the message id as deduplication id.

References: SQS API reference, StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
API_StartMessageMoveTask.html and siblings); developer guide, "Learn how to configure a
dead-letter queue redrive" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/
SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html). Each test deletes the queues
it created, so the session's cloud is left as it was found.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.stack_clock import stack_clock

pytestmark = pytest.mark.integration


@dataclass
class Queues:
    """Queues a test creates; all deleted when it ends."""

    sqs: Any
    urls: list[str] = field(default_factory=list)

    def create(self, name: str, fifo: bool = False, dlq_arn: str | None = None) -> str:
        attrs: dict[str, str] = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} \
            if fifo else {}
        if dlq_arn:
            attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                 "maxReceiveCount": 1})
        url = str(self.sqs.create_queue(QueueName=name + (".fifo" if fifo else ""),
                                        Attributes=attrs)["QueueUrl"])
        self.urls.append(url)
        return url

    def arn(self, url: str) -> str:
        return str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"])

    def pair(self, fifo: bool = False) -> tuple[str, str, str, str]:
        """A source queue whose redrive policy (maxReceiveCount 1) names a new DLQ."""
        name = f"t-redrive-{uuid.uuid4().hex[:8]}"
        dlq = self.create(f"{name}-dlq", fifo)
        src = self.create(name, fifo, self.arn(dlq))
        return src, self.arn(src), dlq, self.arn(dlq)

    def dead_letter(self, src: str, bodies: list[str], group: str | None = None) -> list[str]:
        """Send, then receive twice without deleting: moto moves them to the DLQ on the
        receive after maxReceiveCount. Returns the message ids."""
        ids = []
        for i, body in enumerate(bodies):
            extra = {"MessageGroupId": group, "MessageDeduplicationId": f"dedup-{i}"} \
                if group else {}
            ids.append(self.sqs.send_message(QueueUrl=src, MessageBody=body, **extra)[
                "MessageId"])
        # One at a time from a FIFO queue: moto moves a group's head first only then.
        batch = 1 if group else 10

        def moved() -> bool:
            self.sqs.receive_message(QueueUrl=src, VisibilityTimeout=0,
                                     MaxNumberOfMessages=batch)
            return self.depth(src, "ApproximateNumberOfMessagesNotVisible") + self.depth(
                src) == 0

        wait_for(moved)
        return ids

    def depth(self, url: str, attribute: str = "ApproximateNumberOfMessages") -> int:
        return int(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])[
            "Attributes"][attribute])

    def drain(self, url: str, expected: int, timeout: float = 20) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []

        def more() -> bool:
            resp = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1, AttributeNames=["All"])
            for m in resp.get("Messages", []):
                got.append(m)
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return len(got) >= expected

        wait_for(more, timeout=timeout)
        return got


@pytest.fixture
def queues(cloud: RunningCloud) -> Iterator[Queues]:
    made = Queues(cloud.client("sqs"))
    yield made
    for url in made.urls:
        with contextlib.suppress(ClientError):
            made.sqs.delete_queue(QueueUrl=url)


def tasks(q: Queues, dlq_arn: str) -> list[dict[str, Any]]:
    return list(q.sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"])


def ended(q: Queues, dlq_arn: str) -> dict[str, Any]:
    return dict(wait_for(lambda: (t := tasks(q, dlq_arn)) and t[0]["Status"] not in (
        "RUNNING", "CANCELLING") and t[0], timeout=30))


def test_standard_messages_return_each_to_the_queue_it_came_from(queues: Queues) -> None:
    """Without DestinationArn "the messages will be redriven back to their respective
    original source queues" (StartMessageMoveTask)."""
    src1, src1_arn, dlq, dlq_arn = queues.pair()
    src2 = queues.create(f"t-redrive-second-{uuid.uuid4().hex[:8]}", dlq_arn=dlq_arn)
    queues.dead_letter(src1, ["one-a", "one-b"])
    queues.dead_letter(src2, ["two-a"])
    assert queues.depth(dlq) == 3
    [m] = queues.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"],
                                     MessageSystemAttributeNames=["DeadLetterQueueSourceArn"],
                                     MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"]
    assert m["Attributes"]["DeadLetterQueueSourceArn"] in (src1_arn, queues.arn(src2))

    handle = queues.sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    task = ended(queues, dlq_arn)
    assert task["Status"] == "COMPLETED"
    assert task["ApproximateNumberOfMessagesMoved"] == task[
        "ApproximateNumberOfMessagesToMove"] == 3
    assert "TaskHandle" not in task and "DestinationArn" not in task
    assert sorted(m["Body"] for m in queues.drain(src1, 2)) == ["one-a", "one-b"]
    assert [m["Body"] for m in queues.drain(src2, 1)] == ["two-a"]
    assert queues.depth(dlq) == 0


def test_fifo_messages_return_in_order_with_their_group_as_new_messages(queues: Queues) -> None:
    """A FIFO DLQ redrives to a FIFO queue; "When a message is moved from a FIFO queue to a
    FIFO DLQ, the original message's deduplication ID will be replaced with the original
    message's ID"; "All redriven messages are considered new messages with a new messageID"
    (developer guide): so a redriven message starts with receive count 1 and keeps its group."""
    src, src_arn, dlq, dlq_arn = queues.pair(fifo=True)
    ids = queues.dead_letter(src, ["first", "second", "third"], group="owner-1")
    in_dlq = queues.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10,
                                        VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    assert [m["MessageId"] for m in in_dlq] == ids
    assert [m["Attributes"]["MessageDeduplicationId"] for m in in_dlq] == ids
    assert {m["Attributes"]["DeadLetterQueueSourceArn"] for m in in_dlq} == {src_arn}

    queues.sqs.start_message_move_task(SourceArn=dlq_arn)
    assert ended(queues, dlq_arn)["Status"] == "COMPLETED"
    back = queues.drain(src, 3)
    assert [m["Body"] for m in back] == ["first", "second", "third"]
    assert {m["Attributes"]["MessageGroupId"] for m in back} == {"owner-1"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in back] == ids
    assert not {m["MessageId"] for m in back} & set(ids)
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in back} == {"1"}


def test_a_fifo_dlq_keeps_two_messages_that_shared_a_deduplication_id(queues: Queues) -> None:
    """"This is to make sure that the DLQ deduplication will not prevent storing of two
    independent messages that happen to share a deduplication ID." (developer guide)"""
    src1, _, dlq, dlq_arn = queues.pair(fifo=True)
    src2 = queues.create(f"t-redrive-twin-{uuid.uuid4().hex[:8]}", fifo=True, dlq_arn=dlq_arn)
    queues.dead_letter(src1, ["from-one"], group="g")  # dedup-0
    queues.dead_letter(src2, ["from-two"], group="g")  # dedup-0 as well
    assert sorted(m["Body"] for m in queues.drain(dlq, 2)) == ["from-one", "from-two"]


def test_a_fifo_dlq_redrives_only_to_a_fifo_destination(queues: Queues) -> None:
    _, _, _, dlq_arn = queues.pair(fifo=True)
    standard = queues.create(f"t-redrive-std-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ClientError) as exc:
        queues.sqs.start_message_move_task(SourceArn=dlq_arn,
                                           DestinationArn=queues.arn(standard))
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_messages_move_no_faster_than_the_rate_in_simulated_time(cloud: RunningCloud,
                                                                queues: Queues) -> None:
    """MaxNumberOfMessagesPerSecond sets "the number of messages to be moved per second"
    (StartMessageMoveTask): message k arrives no sooner than k/rate simulated seconds after
    the task started (StartedTimestamp, simulated ms). Arrivals are the destination's
    SentTimestamp (wall ms) on the stack's clock."""
    clock, off = stack_clock(cloud)
    src, _, _, dlq_arn = queues.pair()
    queues.dead_letter(src, [f"m{i}" for i in range(5)])
    dest = queues.create(f"t-redrive-dest-{uuid.uuid4().hex[:8]}")
    rate = 1
    queues.sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queues.arn(dest),
                                       MaxNumberOfMessagesPerSecond=rate)
    task = ended(queues, dlq_arn)
    assert (task["Status"], task["MaxNumberOfMessagesPerSecond"]) == ("COMPLETED", rate)
    started = task["StartedTimestamp"] / 1000
    arrivals = sorted(clock.origin + (int(m["Attributes"]["SentTimestamp"]) / 1000
                                      - clock.origin) * clock.scale - started
                      for m in queues.drain(dest, 5))
    slack = off + 0.002 * clock.scale  # SentTimestamp is whole wall milliseconds
    for k, at in enumerate(arrivals):
        assert at >= k / rate - slack, arrivals
    assert arrivals[-1] < 4 / rate + 30, arrivals  # and it does move: not a stalled task


def test_one_active_task_per_queue_and_cancel_keeps_what_moved(queues: Queues) -> None:
    """"Only one active message movement task is supported per queue at any given time";
    "Cancelling a message movement task does not revert the messages that have already been
    moved" (CancelMessageMoveTask)."""
    src, _, dlq, dlq_arn = queues.pair()
    queues.dead_letter(src, [f"m{i}" for i in range(40)])
    handle = queues.sqs.start_message_move_task(SourceArn=dlq_arn,
                                                MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    with pytest.raises(ClientError) as exc:
        queues.sqs.start_message_move_task(SourceArn=dlq_arn)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Only one active task" in exc.value.response["Error"]["Message"]
    [running] = tasks(queues, dlq_arn)
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle

    wait_for(lambda: tasks(queues, dlq_arn)[0]["ApproximateNumberOfMessagesMoved"] >= 1)
    moved_then = queues.sqs.cancel_message_move_task(TaskHandle=handle)[
        "ApproximateNumberOfMessagesMoved"]
    final = ended(queues, dlq_arn)
    assert final["Status"] == "CANCELLED" and moved_then <= final[
        "ApproximateNumberOfMessagesMoved"] < 40
    assert queues.depth(src) == final["ApproximateNumberOfMessagesMoved"]
    assert queues.depth(dlq) == 40 - final["ApproximateNumberOfMessagesMoved"]
    with pytest.raises(ClientError) as exc:
        queues.sqs.cancel_message_move_task(TaskHandle=handle)
    # The query-compatible code boto3 reports for SQS's UnsupportedOperation.
    assert exc.value.response["Error"]["Code"] == "AWS.SimpleQueueService.UnsupportedOperation"
    queues.sqs.start_message_move_task(SourceArn=dlq_arn)  # no longer active: a new one runs
    assert ended(queues, dlq_arn)["Status"] == "COMPLETED" and queues.depth(dlq) == 0
