"""CloudWatch alarms of the running cloud: the spec's alarms exist with the spec's settings,
evaluate on the simulated clock from the metrics AWS would publish, and notify their topic
once per state change. Every test leaves the shared stack as it found it."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tradai.topology import default_topology
from tradai_sim.cloud.alarms import dimensions

pytestmark = pytest.mark.integration
SPEC = default_topology()
REGION_NAME = "Europe (Frankfurt)"


def report(cloud: RunningCloud, name: str) -> dict[str, Any]:
    answer = requests.get(f"{cloud.endpoint}/_sim/alarms", params={"name": name}, timeout=10)
    return dict(answer.json()["alarms"][name])


def published(cloud: RunningCloud, **params: Any) -> dict[str, Any]:
    answer = requests.get(f"{cloud.endpoint}/_sim/sns/published", params=params, timeout=10)
    return dict(answer.json())


def notices(cloud: RunningCloud, alarm: str, state: str, since: float) -> list[dict[str, Any]]:
    subject = f'{state}: "{alarm}" in {REGION_NAME}'
    return [m for m in published(cloud, since=since)["messages"] if m["subject"] == subject]


def describe(cloud: RunningCloud, name: str) -> dict[str, Any]:
    return cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]  # type: ignore[no-any-return]


def test_spec_alarms_exist_with_every_spec_setting(cloud: RunningCloud) -> None:
    """The bootstrap creates each spec alarm as the Pulumi program does (tests/infra checks
    the program): statistic, period, M of N, comparison, missing data, dimensions, actions."""
    topic = cloud.client("sns").create_topic(Name=cloud.name("alerts"))["TopicArn"]
    for spec in SPEC.alarms:
        alarm = describe(cloud, cloud.name(spec.name))
        settings = {k: alarm.get(k) for k in (
            "Namespace", "MetricName", "Statistic", "ExtendedStatistic", "Period",
            "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
            "TreatMissingData", "Dimensions", "AlarmActions", "OKActions", "ActionsEnabled")}
        assert settings == {
            "Namespace": spec.namespace, "MetricName": spec.metric,
            "Statistic": None if spec.is_percentile else spec.statistic,
            "ExtendedStatistic": spec.statistic if spec.is_percentile else None,
            "Period": spec.period, "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm or spec.evaluation_periods,
            "Threshold": spec.threshold, "ComparisonOperator": spec.comparison,
            "TreatMissingData": spec.treat_missing_data,
            "Dimensions": dimensions.alarm_dimensions(cloud.name, spec),
            "AlarmActions": [topic], "OKActions": [topic], "ActionsEnabled": True,
        }, spec.name


def _drain(sqs: Any, url: str, marker: str) -> None:
    """Delete this test's messages (and only them) until none is left."""
    for _ in range(50):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                  WaitTimeSeconds=0).get("Messages", [])
        mine = [m for m in got if marker in m["Body"]]
        for m in got:
            if m in mine:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:  # not ours: hand it back at once
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
        if not mine:
            return


def test_queue_depth_alarm_goes_to_alarm_when_messages_wait_on_the_dlq_and_publishes_once(
        cloud: RunningCloud) -> None:
    """A message on the backtest DLQ raises ApproximateNumberOfMessagesVisible (published every
    minute, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html);
    the 1-of-1 Maximum >= 1 alarm goes to ALARM and notifies its topic once, however many
    evaluations it stays there ("Alarms invoke actions for sustained state changes only ...
    For Amazon SNS notifications, no additional actions are invoked",
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html);
    drained, it returns to OK with one OK notification."""
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=cloud.name("backtest-dlq.fifo"))["QueueUrl"]
    name = cloud.name("backtest-dlq-not-empty")
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (depth["ApproximateNumberOfMessages"], depth["ApproximateNumberOfMessagesNotVisible"]) \
        == ("0", "0"), "the backtest DLQ holds messages another test left behind"
    wait_for(lambda: report(cloud, name)["state"] == "OK", timeout=30)
    since = published(cloud)["simulated_now"]
    marker = f"alarm-test-{uuid.uuid4().hex}"

    sent = time.time()
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job_id": marker}),
                     MessageGroupId="alarm-test", MessageDeduplicationId=marker)
    try:
        [alarm_notice] = wait_for(lambda: notices(cloud, name, "ALARM", since), timeout=60)
        latency = alarm_notice["wall_time"] - sent
        print(f"DLQ message -> ALARM notification: {latency:.2f} wall s at time scale "
              f"{cloud.time_scale:g}")
        body = json.loads(alarm_notice["message"])
        assert (body["AlarmName"], body["OldStateValue"], body["NewStateValue"]) == (
            name, "OK", "ALARM")
        assert body["Trigger"]["Dimensions"] == [
            {"value": cloud.name("backtest-dlq.fifo"), "name": "QueueName"}]
        assert body["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 "
                                                 "datapoints [1.0 (")
        alarm = describe(cloud, name)
        assert alarm["StateValue"] == "ALARM"
        assert json.loads(alarm["StateReasonData"])["recentDatapoints"] == [1.0]

        evaluated = report(cloud, name)["evaluations"]
        wait_for(lambda: report(cloud, name)["evaluations"] >= evaluated + 2, timeout=30)
        assert report(cloud, name)["state"] == "ALARM"
        assert len(notices(cloud, name, "ALARM", since)) == 1
    finally:
        _drain(sqs, url, marker)

    [ok_notice] = wait_for(lambda: notices(cloud, name, "OK", since), timeout=60)
    history = cloud.client("cloudwatch").describe_alarm_history(
        AlarmName=name, ScanBy="TimestampAscending",
        StartDate=datetime.fromtimestamp(since, UTC))["AlarmHistoryItems"]
    assert json.loads(ok_notice["message"])["OldStateValue"] == "ALARM", (
        [(h["HistorySummary"], h.get("HistoryData", "")[:400]) for h in history],
        report(cloud, name))
    evaluated = report(cloud, name)["evaluations"]
    wait_for(lambda: report(cloud, name)["evaluations"] >= evaluated + 1, timeout=30)
    assert len(notices(cloud, name, "ALARM", since)) == 1
    assert len(notices(cloud, name, "OK", since)) == 1
    history = cloud.client("cloudwatch").describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending",
        StartDate=datetime.fromtimestamp(since, UTC))["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"]


def test_healthy_host_count_alarm_on_a_target_group(cloud: RunningCloud) -> None:
    """HealthyHostCount is published per target group with the dimensions TargetGroup and
    LoadBalancer (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html);
    an alarm naming backend-api's target group sees its healthy task: ">= 1 healthy" goes to
    ALARM and notifies once, and the spec's "< 1 healthy" alarm is OK."""
    cw, sns = cloud.client("cloudwatch"), cloud.client("sns")
    # The backend's task is healthy first (the spec's "< 1 healthy" alarm is OK): on a fresh
    # stack the new alarm would otherwise see 0 healthy, go OK, and only then ALARM.
    spec_alarm = cloud.name("backend-api-no-healthy-targets")
    wait_for(lambda: report(cloud, spec_alarm)["state"] == "OK", timeout=180)
    topic = sns.create_topic(Name=f"alarm-test-{uuid.uuid4().hex[:8]}")["TopicArn"]
    name = f"alarm-test-backend-healthy-{uuid.uuid4().hex[:8]}"
    since = published(cloud)["simulated_now"]
    try:
        cw.put_metric_alarm(
            AlarmName=name, Namespace="AWS/ApplicationELB", MetricName="HealthyHostCount",
            Dimensions=dimensions.alarm_dimensions(cloud.name, next(
                a for a in SPEC.alarms if a.target_group == "backend-api")),
            Statistic="Minimum", Period=60, EvaluationPeriods=1, Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic])
        # It starts in INSUFFICIENT_DATA (the notice's OldStateValue below); reading the state
        # right after the put raced the engine's next evaluation on a loaded machine.
        [notice] = wait_for(lambda: published(cloud, topic=topic, since=since)["messages"],
                            timeout=60)
        body = json.loads(notice["message"])
        assert (body["OldStateValue"], body["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")
        trigger = body["Trigger"]
        assert {d["name"]: d["value"] for d in trigger["Dimensions"]} == dict(
            dimensions.target_group_dimensions(cloud.name, "backend-api"))
        evaluated = report(cloud, name)["evaluations"]
        wait_for(lambda: report(cloud, name)["evaluations"] >= evaluated + 2, timeout=30)
        assert len(published(cloud, topic=topic, since=since)["messages"]) == 1
        assert report(cloud, spec_alarm)["state"] == "OK"
    finally:
        cw.delete_alarms(AlarmNames=[name])
        sns.delete_topic(TopicArn=topic)
