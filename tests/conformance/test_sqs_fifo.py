"""SQS FIFO: the deduplication interval, and the deduplication id of a message moved to a FIFO
dead-letter queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.cloud import RunningCloud, wait_for

INTERVAL = 300  # simulated seconds


class Fifo:
    def __init__(self, cloud: RunningCloud) -> None:
        self.cloud = cloud
        self.sqs = cloud.client("sqs")
        self.urls: list[str] = []

    def queue(self, content_based: bool = False, dlq_arn: str | None = None) -> str:
        attrs = {"FifoQueue": "true", "ContentBasedDeduplication": str(content_based).lower()}
        if dlq_arn:
            attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                 "maxReceiveCount": 1})
        url = str(self.sqs.create_queue(QueueName=f"t-fifo-{uuid.uuid4().hex[:10]}.fifo",
                                        Attributes=attrs)["QueueUrl"])
        self.urls.append(url)
        return url

    def arn(self, url: str) -> str:
        return str(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"])

    def receive(self, url: str, visibility: int = 30) -> list[dict[str, Any]]:
        return list(self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"]).get("Messages", []))

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def fifo(cloud: RunningCloud) -> Iterator[Fifo]:
    f = Fifo(cloud)
    yield f
    for url in f.urls:
        f.sqs.delete_queue(QueueUrl=url)


def sim_now(cloud: RunningCloud) -> float:
    return float(cloud.status()["simulated_now"])


@pytest.mark.parametrize("content_based", [False, True], ids=["explicit-id", "content-hash"])
def test_a_deduplication_id_is_remembered_after_its_message_was_received_and_deleted(
        fifo: Fifo, content_based: bool) -> None:
    """"Amazon SQS continues tracking the deduplication ID even after the message has been
    received and deleted"; a send with the same id within the 5-minute interval is "accepted
    successfully but not delivered".
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html
    """
    url = fifo.queue(content_based=content_based)
    send = {"QueueUrl": url, "MessageBody": "job-1", "MessageGroupId": "owner-1"}
    if not content_based:
        send["MessageDeduplicationId"] = "dedup-job-1"
    first = fifo.sqs.send_message(**send)["MessageId"]
    got = fifo.receive(url)
    assert [m["MessageId"] for m in got] == [first]
    fifo.sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])

    again = fifo.sqs.send_message(**send)  # within the interval: accepted ...
    assert again["MessageId"]
    assert fifo.receive(url) == []  # ... but not delivered
    assert fifo.depth(url) == 0
    # A different id in the same group is delivered: only the duplicate was dropped.
    other = dict(send, MessageBody="job-2")
    if not content_based:
        other["MessageDeduplicationId"] = "dedup-job-2"
    fifo.sqs.send_message(**other)
    assert [m["Body"] for m in fifo.receive(url)] == ["job-2"]


def test_the_deduplication_interval_ends_five_simulated_minutes_after_the_send(
        cloud: RunningCloud, fifo: Fifo) -> None:
    """The interval is 5 minutes from the send ("any messages sent with the same
    MessageDeduplicationId are accepted successfully but aren't delivered during the 5-minute
    deduplication interval"); a send after it is delivered, even while the first message is
    still in the queue. The interval is pure waiting, so it passes in simulated time.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    """
    url = fifo.queue()
    send = {"QueueUrl": url, "MessageBody": "job-1", "MessageGroupId": "owner-1",
            "MessageDeduplicationId": "dedup-job-1"}
    sent_at = sim_now(cloud)
    fifo.sqs.send_message(**send)
    fifo.sqs.send_message(**send)
    assert fifo.depth(url) == 1  # inside the interval: dropped
    # 300 simulated seconds are 15 wall seconds at scale 20.
    wait_for(lambda: sim_now(cloud) > sent_at + INTERVAL + 5, timeout=60, interval=0.5)
    fifo.sqs.send_message(**send)
    assert fifo.depth(url) == 2  # after it: a new message, behind the first in its group
    got = fifo.receive(url)
    assert [m["Body"] for m in got] == ["job-1", "job-1"]
    assert len({m["MessageId"] for m in got}) == 2


def test_a_message_moved_to_a_fifo_dlq_takes_its_message_id_as_deduplication_id(
        fifo: Fifo) -> None:
    """"When a message is moved from a FIFO queue to a FIFO DLQ, the original message's
    deduplication ID will be replaced with the original message's ID. This is to make sure
    that the DLQ deduplication will not prevent storing of two independent messages that
    happen to share a deduplication ID." The message group is kept.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html
    """
    dlq = fifo.queue(content_based=True)
    sources = [fifo.queue(content_based=True, dlq_arn=fifo.arn(dlq)) for _ in range(2)]
    sent = {}
    for i, src in enumerate(sources):
        # The same body in both: the same content-based deduplication id.
        sent[fifo.sqs.send_message(QueueUrl=src, MessageBody="poison",
                                   MessageGroupId=f"owner-{i}")["MessageId"]] = f"owner-{i}"
    for src in sources:  # maxReceiveCount 1: the receive after the first moves it
        assert len(fifo.receive(src, visibility=0)) == 1
        wait_for(lambda src=src: not fifo.receive(src, visibility=0) and fifo.depth(src) == 0,
                 timeout=30)

    moved: list[dict[str, Any]] = []
    wait_for(lambda: moved.extend(fifo.receive(dlq)) or len(moved) >= 2, timeout=30)
    assert len(moved) == 2
    assert {m["MessageId"] for m in moved} == set(sent)
    for m in moved:
        attrs = m["Attributes"]
        assert attrs["MessageDeduplicationId"] == m["MessageId"]
        assert attrs["MessageGroupId"] == sent[m["MessageId"]]
