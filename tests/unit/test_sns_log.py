"""The published-message log: every message an SNS topic accepts, with simulated time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from tradai_sim.cloud import moto_patches
from tradai_sim.cloud.sns_log import moto_hooks
from tradai_sim.cloud.sns_log.recorder import PublishedLog

REGION = "eu-central-1"


@dataclass
class HandClock:
    t: float

    def now(self) -> float:
        return self.t


@pytest.fixture()
def log(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PublishedLog, HandClock]]:
    clock, recorded = HandClock(1_800_000_000.0), PublishedLog()
    with mock_aws():
        [patch] = [p for p in moto_patches.PATCHES if p.target == "moto.sns.models:Topic.publish"]
        owner, attr, original = patch.resolve()
        monkeypatch.setattr(owner, attr, patch.make(original))
        moto_hooks.install(recorded, clock)  # type: ignore[arg-type]
        try:
            yield recorded, clock
        finally:
            moto_hooks.install(None, None)


def test_every_published_message_is_recorded_with_topic_subject_and_times(
        log: tuple[PublishedLog, HandClock]) -> None:
    recorded, clock = log
    sns = boto3.client("sns", region_name=REGION)
    alerts = sns.create_topic(Name="tradai-local-alerts")["TopicArn"]
    other = sns.create_topic(Name="tradai-local-notifications")["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="sub")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=alerts, Protocol="sqs", Endpoint=arn)

    first = sns.publish(TopicArn=alerts, Subject="ALARM: x", Message="one")["MessageId"]
    clock.t += 120
    sns.publish(TopicArn=other, Message="two")
    sns.publish(TopicArn=alerts, Message="three")

    items = recorded.query()
    assert [(i.topic, i.subject, i.message) for i in items] == [
        ("tradai-local-alerts", "ALARM: x", "one"), ("tradai-local-notifications", None, "two"),
        ("tradai-local-alerts", None, "three")]
    assert (items[0].message_id, items[0].topic_arn) == (first, alerts)
    assert [i.simulated_time for i in items] == [1_800_000_000.0, 1_800_000_120.0,
                                                1_800_000_120.0]
    assert items[0].as_json()["simulated_iso"] == "2027-01-15T08:00:00Z"
    # recording does not replace delivery: the subscriber still got its message
    assert len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]) == 2


def test_log_filters_by_topic_name_or_arn_since_and_after(
        log: tuple[PublishedLog, HandClock]) -> None:
    recorded, _ = log
    for n, (topic, at) in enumerate([("a", 10.0), ("b", 20.0), ("a", 30.0)]):
        recorded.record(f"arn:aws:sns:r:1:{topic}", None, str(n), str(n), at, at)
    assert [i.message for i in recorded.query(topic="a")] == ["0", "2"]
    assert [i.message for i in recorded.query(topic="arn:aws:sns:r:1:b")] == ["1"]
    assert [i.message for i in recorded.query(since=20.0)] == ["1", "2"]
    assert [i.message for i in recorded.query(after=recorded.query()[0].seq)] == ["1", "2"]


def test_log_keeps_the_newest_messages_when_full() -> None:
    recorded = PublishedLog(capacity=3)
    for n in range(5):
        recorded.record("arn:aws:sns:r:1:t", None, str(n), str(n), n, n)
    assert [i.message for i in recorded.query()] == ["2", "3", "4"]
    assert recorded.query()[-1].seq == 5
