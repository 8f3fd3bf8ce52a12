"""Stop conditions: an experiment whose ``aws:cloudwatch:alarm`` stop condition's alarm is in
the ALARM state is stopped. https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html

Alarm states are read from the emulator's CloudWatch backend in this process (the alarm
evaluator part, or ``SetAlarmState``, sets them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

ALARM_SOURCE = "aws:cloudwatch:alarm"

AlarmStates = Callable[[str], str | None]  # alarm ARN -> OK | ALARM | INSUFFICIENT_DATA | None


def alarm_arns(stop_conditions: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(c["value"]) for c in stop_conditions
            if c.get("source") == ALARM_SOURCE and c.get("value")]


def moto_alarm_states(account_id: str) -> AlarmStates:
    """Alarm state by ARN, from moto's CloudWatch backend of the ARN's region."""

    def state(arn: str) -> str | None:
        from moto.cloudwatch.models import cloudwatch_backends

        parts = arn.split(":", 6)
        if len(parts) < 7:
            return None
        region, name = parts[3], parts[6]
        alarm = cloudwatch_backends[account_id][region].alarms.get(name)
        return None if alarm is None else str(alarm.state_value)

    return state


def triggered(stop_conditions: Iterable[Mapping[str, Any]], states: AlarmStates) -> str | None:
    """The reason to stop, if one of the alarms is in ALARM."""
    for arn in alarm_arns(stop_conditions):
        if states(arn) == "ALARM":
            return f"Stop condition triggered: alarm {arn} is in ALARM state."
    return None


def missing(stop_conditions: Iterable[Mapping[str, Any]], states: AlarmStates) -> list[str]:
    return [arn for arn in alarm_arns(stop_conditions) if states(arn) is None]
