"""Alarms evaluated against moto's CloudWatch in-process: the alarm patches (initial state,
SetAlarmState actions, DescribeAlarmHistory, datapoint timestamps, SQS arrival times) and the
engine's state changes with their notifications, on a hand-driven simulated clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai_sim.cloud import moto_patches
from tradai_sim.cloud.alarms import moto_hooks, moto_view, sqs_metrics
from tradai_sim.cloud.alarms.engine import AlarmEngine
from tradai_sim.cloud.alarms.history import HistoryStore

REGION, ACCOUNT = "eu-central-1", "123456789012"
T0 = 1_800_000_000.0  # a minute boundary, 2027-01-15T08:00:00Z
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"
OURS = ("alarms.moto_hooks",)


@dataclass
class HandClock:
    t: float
    origin: float = T0 - 3600
    scale: float = 20.0

    def now(self) -> float:
        return self.t


@dataclass
class Published:
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, topic: str, subject: str, message: str) -> str:
        self.calls.append((topic, subject, json.loads(message)))
        return f"m-{len(self.calls)}"


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[HandClock]:
    """moto in-process with the alarm patches applied for this test only."""
    clock = HandClock(T0 - 300)
    with mock_aws():
        for patch in moto_patches.PATCHES:
            if patch.target.startswith(("moto.cloudwatch", "moto.sqs.models:Queue.add")):
                owner, attr, original = patch.resolve()
                monkeypatch.setattr(owner, attr, patch.make(original))
        monkeypatch.setattr(moto_hooks, "HISTORY", HistoryStore())
        moto_hooks.install_clock(clock)  # type: ignore[arg-type]
        try:
            yield clock
        finally:
            moto_hooks.install_clock(None)
            moto_hooks.install_engine(None)


def engine(published: Published) -> AlarmEngine:
    made = AlarmEngine(ACCOUNT, REGION, lambda: moto_view.cloudwatch_backend(ACCOUNT, REGION),
                       published, moto_hooks.HISTORY, moto_hooks.LOCK)
    moto_hooks.install_engine(made)
    return made


def cloudwatch() -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


def put_alarm(name: str = "dlq", **extra: Any) -> None:
    cloudwatch().put_metric_alarm(**{
        "AlarmName": name, "Namespace": "AWS/SQS", "MetricName": "Depth",
        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}], "Statistic": "Maximum",
        "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "AlarmActions": [TOPIC],
        "OKActions": [TOPIC], **extra})


def put_value(value: float, at: float) -> None:
    cloudwatch().put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "Depth", "Value": value, "Timestamp": datetime.fromtimestamp(at, UTC),
        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}]}])


def describe(name: str = "dlq") -> dict[str, Any]:
    return cloudwatch().describe_alarms(AlarmNames=[name])["MetricAlarms"][0]  # type: ignore[no-any-return]


def test_new_alarm_starts_in_insufficient_data_and_an_update_keeps_its_state(
        aws: HandClock) -> None:
    """"When this operation creates an alarm, the alarm state is immediately set to
    INSUFFICIENT_DATA ... When you update an existing alarm, its state is left unchanged."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    """
    put_alarm()
    alarm = describe()
    assert (alarm["StateValue"], alarm["StateReason"]) == (
        "INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")
    assert alarm["StateUpdatedTimestamp"].timestamp() == T0 - 300
    cloudwatch().set_alarm_state(AlarmName="dlq", StateValue="ALARM", StateReason="test")
    aws.t = T0 - 200
    put_alarm(Threshold=2.0)
    alarm = describe()
    assert (alarm["StateValue"], alarm["StateReason"], alarm["Threshold"]) == (
        "ALARM", "test", 2.0)
    assert alarm["AlarmConfigurationUpdatedTimestamp"].timestamp() == T0 - 200


def test_datapoint_without_timestamp_is_stamped_with_simulated_arrival_time(
        aws: HandClock) -> None:
    """A datapoint without Timestamp gets the time it was received ("the time the metric data
    was received", PutMetricData's MetricDatum.Timestamp); here that is simulated time.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
    """
    cloudwatch().put_metric_data(Namespace="ns", MetricData=[{"MetricName": "m", "Value": 1.0}])
    [datum] = moto_view.cloudwatch_backend(ACCOUNT, REGION).metric_data
    assert moto_view.epoch(datum.timestamp) == T0 - 300


def test_alarm_changes_state_once_per_change_and_notifies_each_change_once(
        aws: HandClock) -> None:
    """"Alarms invoke actions for sustained state changes only ... For Amazon SNS
    notifications, no additional actions are invoked" while the state lasts; ALARM runs
    AlarmActions, OK runs OKActions.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    """
    put_alarm()
    published = Published()
    eng = engine(published)
    put_value(3.0, T0 - 30)
    eng.tick(T0)
    alarm = describe()
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints "
                                           "[3.0 (15/01/27 07:59:00)] was greater than or equal")
    assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [3.0]
    assert alarm["StateUpdatedTimestamp"].timestamp() == T0
    assert alarm["StateTransitionedTimestamp"].timestamp() == T0
    [(topic, subject, body)] = published.calls
    assert (topic, subject) == (TOPIC, 'ALARM: "dlq" in Europe (Frankfurt)')
    assert (body["OldStateValue"], body["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")

    for minute in (1, 2, 3):  # still breaching: evaluated, no new notification
        put_value(5.0, T0 + 60 * minute - 30)
        eng.tick(T0 + 60 * minute)
    assert len(published.calls) == 1
    assert eng.records["dlq"].evaluations == 4

    put_value(0.0, T0 + 210)
    eng.tick(T0 + 240)
    assert describe()["StateValue"] == "OK"
    assert [(c[1], c[2]["OldStateValue"]) for c in published.calls] == [
        ('ALARM: "dlq" in Europe (Frankfurt)', "INSUFFICIENT_DATA"),
        ('OK: "dlq" in Europe (Frankfurt)', "ALARM")]


def test_alarm_history_is_served_as_describe_alarm_history(aws: HandClock) -> None:
    """DescribeAlarmHistory (not implemented by moto) lists ConfigurationUpdate, StateUpdate
    and Action items, newest first by default.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html
    """
    put_alarm()
    eng = engine(Published())
    put_value(3.0, T0 - 30)
    eng.tick(T0)
    items = cloudwatch().describe_alarm_history(AlarmName="dlq")["AlarmHistoryItems"]
    assert [(i["HistoryItemType"], i["HistorySummary"]) for i in items] == [
        ("Action", f"Successfully executed action {TOPIC}"),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to ALARM"),
        ("ConfigurationUpdate", 'Alarm "dlq" created')]
    assert items[1]["Timestamp"].timestamp() == T0
    data = json.loads(items[1]["HistoryData"])
    assert (data["oldState"]["stateValue"], data["newState"]["stateValue"]) == (
        "INSUFFICIENT_DATA", "ALARM")
    only_states = cloudwatch().describe_alarm_history(
        AlarmName="dlq", HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
    assert len(only_states["AlarmHistoryItems"]) == 1


def test_set_alarm_state_runs_the_actions_of_the_new_state(aws: HandClock) -> None:
    """"When the updated state differs from the previous value, the action configured for the
    appropriate state is invoked."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html
    """
    put_alarm()
    published = Published()
    engine(published)
    cloudwatch().set_alarm_state(AlarmName="dlq", StateValue="ALARM", StateReason="drill")
    cloudwatch().set_alarm_state(AlarmName="dlq", StateValue="ALARM", StateReason="again")
    assert [(c[2]["NewStateValue"], c[2]["NewStateReason"]) for c in published.calls] == [
        ("ALARM", "drill")]


def test_disabled_actions_change_state_without_notifying(aws: HandClock) -> None:
    """ActionsEnabled false: "Indicates whether actions should be executed during any changes
    to the alarm state."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    """
    put_alarm(ActionsEnabled=False)
    published = Published()
    eng = engine(published)
    put_value(3.0, T0 - 30)
    eng.tick(T0)
    assert describe()["StateValue"] == "ALARM" and published.calls == []


def test_unsupported_alarm_is_reported_and_left_alone(aws: HandClock) -> None:
    cloudwatch().put_metric_alarm(
        AlarmName="math", EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=[{"Id": "e", "Expression": "m * 2", "ReturnData": True},
                 {"Id": "m", "ReturnData": False, "MetricStat": {
                     "Metric": {"Namespace": "ns", "MetricName": "x"}, "Period": 60,
                     "Stat": "Sum"}}])
    eng = engine(Published())
    eng.tick(T0)
    report = eng.report("math")["alarms"]["math"]
    assert report["state"] == "INSUFFICIENT_DATA"
    assert "metric math" in report["unsupported"]


def test_message_moved_to_a_dead_letter_queue_is_aged_from_its_move(aws: HandClock) -> None:
    """"When a message is moved to a DLQ after exceeding the maxReceiveCount, the age resets.
    In that case, the DLQ's metric reflects the time the message was moved".
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    """
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="src", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
    aws.t = T0 - 900
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]) == 1
    aws.t = T0 - 100
    assert sqs.receive_message(QueueUrl=src).get("Messages") is None  # moved to the DLQ now
    backend = moto_view.sqs_backend(ACCOUNT, REGION)
    datums = {(d.dimensions[0][1], d.name): d.value
              for d in sqs_metrics.sample(backend, aws, T0)}  # type: ignore[arg-type]
    assert datums[("dlq", "ApproximateAgeOfOldestMessage")] == 100
    assert datums[("dlq", "ApproximateNumberOfMessagesVisible")] == 1
    assert datums[("src", "ApproximateNumberOfMessagesVisible")] == 0
    assert ("src", "ApproximateAgeOfOldestMessage") not in datums

