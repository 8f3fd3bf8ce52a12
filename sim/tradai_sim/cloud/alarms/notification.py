"""The SNS message CloudWatch publishes when an alarm changes state, and its subject.

The shape is AWS's (e.g. ``events/testdata/cloudwatch-alarm-sns-payload-single-metric.json``
in aws/aws-lambda-go, and real notifications): subject ``ALARM: "name" in Europe
(Frankfurt)`` with the Region's display name, and a JSON body whose Trigger describes the
metric. ``TreatMissingData`` is rendered in the odd padded form real notifications carry.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import botocore.loaders

from tradai_sim.cloud.alarms.definition import AlarmDefinition
from tradai_sim.cloud.alarms.reasons import reason_data_time

SUBJECT_LIMIT = 100  # SNS refuses longer subjects


@lru_cache(maxsize=32)
def region_display_name(region: str) -> str:
    """"Europe (Frankfurt)" for eu-central-1: the name AWS puts in subjects and bodies."""
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    for partition in endpoints["partitions"]:
        if region in partition["regions"]:
            return str(partition["regions"][region].get("description", region))
    return region


def subject(state: str, alarm_name: str, region: str) -> str:
    return f'{state}: "{alarm_name}" in {region_display_name(region)}'[:SUBJECT_LIMIT]


def _iso(ts: float | None) -> str | None:
    return None if ts is None else reason_data_time(ts)


def message(alarm: AlarmDefinition, old_state: str, new_state: str, reason: str,
            change_time: float, region: str, account_id: str) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "MetricName": alarm.metric,
        "Namespace": alarm.namespace,
        "StatisticType": "ExtendedStatistic" if alarm.is_percentile else "Statistic",
    }
    if alarm.is_percentile:
        trigger["ExtendedStatistic"] = alarm.statistic
    else:
        trigger["Statistic"] = alarm.statistic.upper()
    trigger.update({
        "Unit": alarm.unit,
        "Dimensions": [{"value": v, "name": n} for n, v in alarm.dimensions],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": alarm.comparison,
        "Threshold": alarm.threshold,
        "TreatMissingData": f"- TreatMissingData:                    "
                            f"{alarm.treat_missing_data}",
        "EvaluateLowSampleCountPercentile": alarm.low_sample_percentile or "",
    })
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _iso(alarm.configuration_updated),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": _iso(change_time),
        "Region": region_display_name(region),
        "AlarmArn": alarm.arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": trigger,
    }
