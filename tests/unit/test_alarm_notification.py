"""The SNS notification, state reason and reason data of an alarm state change."""

from __future__ import annotations

import json
import re

from tradai_sim.cloud.alarms import notification
from tradai_sim.cloud.alarms.definition import AlarmDefinition
from tradai_sim.cloud.alarms.evaluation import ALARM, OK, Rule, evaluate
from tradai_sim.cloud.alarms.reasons import reason_data, state_reason
from tradai_sim.cloud.alarms.statistics import PeriodValue

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
DLQ = AlarmDefinition(
    name="tradai-local-backtest-dlq-not-empty",
    arn="arn:aws:cloudwatch:eu-central-1:123456789012:alarm:tradai-local-backtest-dlq-not-empty",
    namespace="AWS/SQS", metric="ApproximateNumberOfMessagesVisible",
    dimensions=(("QueueName", "tradai-local-backtest-dlq.fifo"),), statistic="Maximum",
    period=60, evaluation_periods=1, datapoints_to_alarm=1,
    comparison="GreaterThanOrEqualToThreshold", threshold=1.0,
    treat_missing_data="notBreaching", ok_actions=("arn:aws:sns:eu-central-1:1:alerts",),
    alarm_actions=("arn:aws:sns:eu-central-1:1:alerts",), configuration_updated=T0 - 600)
AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def test_subject_names_state_alarm_and_region_as_aws_formats_it() -> None:
    """Real notifications: ``ALARM: "compile error" in Asia Pacific (Tokyo)``, ``OK:
    "alarm-test" in US - N. Virginia`` (the Region's display name)."""
    assert notification.subject(ALARM, "x", "eu-central-1") == 'ALARM: "x" in Europe (Frankfurt)'
    assert notification.subject(OK, "y", "us-east-1") == 'OK: "y" in US East (N. Virginia)'
    assert len(notification.subject(ALARM, "z" * 120, "eu-central-1")) == 100  # SNS's limit


def test_notification_body_has_aws_alarm_notification_fields() -> None:
    """The JSON CloudWatch publishes to SNS (AlarmName, AlarmDescription, AWSAccountId,
    NewStateValue, NewStateReason, StateChangeTime, Region, OldStateValue, Trigger{...}), as in
    aws/aws-lambda-go events/testdata/cloudwatch-alarm-sns-payload-single-metric.json.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    """
    body = notification.message(DLQ, "OK", "ALARM", "Threshold Crossed: ...", T0 + 65,
                                "eu-central-1", "123456789012")
    assert json.loads(json.dumps(body)) == body
    assert {k: body[k] for k in ("AlarmName", "AWSAccountId", "NewStateValue", "OldStateValue",
                                 "Region", "AlarmArn", "NewStateReason")} == {
        "AlarmName": DLQ.name, "AWSAccountId": "123456789012", "NewStateValue": "ALARM",
        "OldStateValue": "OK", "Region": "Europe (Frankfurt)", "AlarmArn": DLQ.arn,
        "NewStateReason": "Threshold Crossed: ..."}
    assert body["AlarmDescription"] is None
    assert AWS_TIME.match(body["StateChangeTime"]) and body["StateChangeTime"].startswith(
        "2027-01-15T08:01:05.000")
    assert body["AlarmActions"] == body["OKActions"] == ["arn:aws:sns:eu-central-1:1:alerts"]
    assert body["Trigger"] == {
        "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS",
        "StatisticType": "Statistic", "Statistic": "MAXIMUM", "Unit": None,
        "Dimensions": [{"value": "tradai-local-backtest-dlq.fifo", "name": "QueueName"}],
        "Period": 60, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0,
        "TreatMissingData": "- TreatMissingData:                    notBreaching",
        "EvaluateLowSampleCountPercentile": ""}


def test_percentile_alarm_trigger_names_its_extended_statistic() -> None:
    p99 = AlarmDefinition(**{**DLQ.__dict__, "statistic": "p99"})
    trigger = notification.message(p99, "OK", "ALARM", "r", T0, "eu-central-1", "1")["Trigger"]
    assert (trigger["StatisticType"], trigger["ExtendedStatistic"]) == ("ExtendedStatistic", "p99")
    assert "Statistic" not in trigger


def _points(*values: float | None) -> list[PeriodValue]:
    return [PeriodValue(T0 + 60 * i, v, 0.0 if v is None else 1.0) for i, v in enumerate(values)]


def test_threshold_crossed_reason_lists_the_evaluated_datapoints() -> None:
    """AWS: "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (15/02/21 14:52:00)] was
    greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM
    transition)." and reason data with period, threshold, recentDatapoints, evaluatedDatapoints.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    points = _points(None, None, 3.0)
    verdict = evaluate(DLQ.rule, [p.value for p in points])
    assert state_reason(DLQ, verdict, points, "OK") == (
        "Threshold Crossed: 1 out of the last 1 datapoints [3.0 (15/01/27 08:02:00)] was "
        "greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM "
        "transition).")
    data = reason_data(DLQ, verdict, points, T0 + 185)
    assert data["version"] == "1.0" and AWS_TIME.match(data["queryDate"])
    assert (data["statistic"], data["period"], data["threshold"]) == ("Maximum", 60, 1.0)
    assert data["recentDatapoints"] == [3.0]
    assert data["evaluatedDatapoints"] == [
        {"timestamp": "2027-01-15T08:02:00.000+0000", "sampleCount": 1.0, "value": 3.0}]


def test_missing_data_reasons_say_how_missing_datapoints_were_treated() -> None:
    """AWS: "Threshold Crossed: no datapoints were received for 1 period and 1 missing
    datapoint was treated as [NonBreaching]." and "Insufficient Data: 1 datapoint was
    unknown."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    points = _points(None, None, None)
    verdict = evaluate(DLQ.rule, [None, None, None])
    assert state_reason(DLQ, verdict, points, "ALARM") == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [NonBreaching].")
    missing = AlarmDefinition(**{**DLQ.__dict__, "treat_missing_data": "missing"})
    verdict = evaluate(missing.rule, [None, None, None])
    assert state_reason(missing, verdict, points, "OK") == \
        "Insufficient Data: 1 datapoint was unknown."


def test_ok_reason_says_which_datapoints_were_not_breaching() -> None:
    two_of_three = AlarmDefinition(**{**DLQ.__dict__, "evaluation_periods": 3,
                                      "datapoints_to_alarm": 2})
    points = _points(None, None, 5.0, 0.0, 0.0)
    verdict = evaluate(Rule(3, 2, "GreaterThanOrEqualToThreshold", 1.0), [p.value for p in points])
    assert verdict.state == OK
    assert state_reason(two_of_three, verdict, points, "ALARM") == (
        "Threshold Crossed: 2 out of the last 3 datapoints [0.0 (15/01/27 08:04:00), 0.0 "
        "(15/01/27 08:03:00), 5.0 (15/01/27 08:02:00)] were not greater than or equal to the "
        "threshold (1.0) (minimum 2 datapoints for ALARM -> OK transition).")
