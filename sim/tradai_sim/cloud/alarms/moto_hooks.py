"""The moto side of CloudWatch alarms (patched in ``moto_patches.PATCHES``).

* PutMetricAlarm: a new alarm starts in INSUFFICIENT_DATA ("Unchecked: Initial alarm
  creation"); an update keeps the alarm's state (moto replaces the alarm and resets it to OK).
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
* SetAlarmState: when the state changes, the new state's actions run (moto runs none).
* PutMetricData: a datapoint without a Timestamp is stamped with the simulated time it arrived
  (moto stamps wall time, which the simulated clock has long left behind).
* DescribeAlarmHistory: not implemented by moto; served from ``HISTORY``.
* SQS ``Queue.add_message``: each message is stamped with the simulated time it arrived in the
  queue (a move to the DLQ included), for ApproximateAgeOfOldestMessage.

Timestamps are simulated once ``install_clock`` ran (the part's ``prepare``, before the
bootstrap); the SetAlarmState actions need the running part (``install_engine``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradai.clock import Clock
from tradai_sim.cloud.alarms import moto_view
from tradai_sim.cloud.alarms.evaluation import INSUFFICIENT_DATA
from tradai_sim.cloud.alarms.history import HistoryStore, configuration_item, state_item

if TYPE_CHECKING:
    from tradai_sim.cloud.alarms.engine import AlarmEngine

INITIAL_REASON = "Unchecked: Initial alarm creation"
HISTORY = HistoryStore()
LOCK = threading.RLock()  # alarm state changes: the evaluator, SetAlarmState, PutMetricAlarm
_KEPT_ON_UPDATE = ("state_value", "state_reason", "state_reason_data",
                   "state_updated_timestamp", "state_transitioned_timestamp", "history")

_clock: Clock | None = None
_engine: AlarmEngine | None = None


def install_clock(clock: Clock | None) -> None:
    global _clock
    _clock = clock


def install_engine(engine: AlarmEngine | None) -> None:
    global _engine
    _engine = engine


def now() -> float:
    return _clock.now() if _clock is not None else time.time()


def _config(alarm: Any) -> dict[str, Any]:
    return {"alarmName": alarm.name, "namespace": alarm.namespace,
            "metricName": alarm.metric_name, "statistic": alarm.statistic,
            "extendedStatistic": alarm.extended_statistic, "period": alarm.period,
            "evaluationPeriods": alarm.evaluation_periods,
            "datapointsToAlarm": alarm.datapoints_to_alarm,
            "threshold": alarm.threshold, "comparisonOperator": alarm.comparison_operator,
            "treatMissingData": alarm.treat_missing_data,
            "dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
            "actionsEnabled": alarm.actions_enabled, "alarmActions": alarm.alarm_actions,
            "okActions": alarm.ok_actions,
            "insufficientDataActions": alarm.insufficient_data_actions}


def put_metric_alarm(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_metric_alarm(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        with LOCK:
            previous = self.alarms.get(name)
            alarm = original(self, name, *args, **kwargs)
            at = now()
            alarm.configuration_updated_timestamp = moto_view.moto_time(at)
            if previous is None:
                alarm.state_value, alarm.state_reason = INSUFFICIENT_DATA, INITIAL_REASON
                alarm.state_updated_timestamp = moto_view.moto_time(at)
                alarm.state_transitioned_timestamp = moto_view.moto_time(at)
            else:
                for attr in _KEPT_ON_UPDATE:
                    if hasattr(previous, attr):
                        setattr(alarm, attr, getattr(previous, attr))
            kind = "CompositeAlarm" if getattr(alarm, "rule", None) else "MetricAlarm"
            HISTORY.add(configuration_item(name, at, previous is None, _config(alarm), kind))
            return alarm

    return put_metric_alarm


def set_alarm_state(original: Callable[..., Any]) -> Callable[..., Any]:
    def set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str,
                        state_value: str) -> None:
        with LOCK:
            alarm = self.alarms.get(alarm_name)
            old = (alarm.state_value, alarm.state_reason) if alarm is not None else None
            original(self, alarm_name, reason, reason_data, state_value)
            if alarm is None or old is None or old[0] == alarm.state_value:
                return
            at = now()
            alarm.state_updated_timestamp = moto_view.moto_time(at)
            alarm.state_transitioned_timestamp = moto_view.moto_time(at)
            engine = _engine
            if engine is None:
                HISTORY.add(state_item(alarm_name, at, old, (alarm.state_value,
                                                             alarm.state_reason,
                                                             alarm.state_reason_data)))
                return
            try:
                definition = moto_view.definition(alarm)
            except ValueError:  # an alarm we cannot evaluate still gets its history
                HISTORY.add(state_item(alarm_name, at, old, (alarm.state_value,
                                                             alarm.state_reason,
                                                             alarm.state_reason_data)))
                return
            engine.state_changed(definition, alarm, old, at)

    return set_alarm_state


def put_metric_data(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        if _clock is not None:
            stamp = moto_view.moto_time(_clock.now())
            metric_data = [m if m.get("Timestamp") else {**m, "Timestamp": stamp}
                           for m in metric_data]
        return original(self, namespace, metric_data)

    return put_metric_data


def _history_response(response: Any) -> dict[str, Any]:
    def when(param: str) -> float | None:
        value = response._get_param(param)
        if value is None:
            return None
        if isinstance(value, datetime):
            return moto_view.epoch(value)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()

    items = HISTORY.query(alarm_name=response._get_param("AlarmName"),
                          item_type=response._get_param("HistoryItemType"),
                          start=when("StartDate"), end=when("EndDate"),
                          newest_first=response._get_param("ScanBy") != "TimestampAscending")
    kinds = response._get_param("AlarmTypes") or ["MetricAlarm"]
    items = [i for i in items if i.alarm_type in kinds]
    start = int(response._get_param("NextToken") or 0)
    limit = int(response._get_param("MaxRecords") or 100)
    page = items[start:start + limit]
    result: dict[str, Any] = {"AlarmHistoryItems": [i.as_api() for i in page]}
    if start + limit < len(items):
        result["NextToken"] = str(start + limit)
    return result


def call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    """Serve DescribeAlarmHistory, which moto does not implement; the rest is moto's."""

    def call_action(self: Any) -> Any:
        if self._get_action() != "DescribeAlarmHistory":
            return original(self)
        from moto.core.responses import ActionResult

        status, headers, body = self.serialized(ActionResult(_history_response(self)))
        headers, body = self._enrich_response(headers, body)
        return status, headers, body

    return call_action


def queue_add_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_message(self: Any, message: Any) -> None:
        if _clock is not None:  # before that, the sampler falls back to the send time
            message.tradai_arrived = _clock.now()
            message.tradai_receives_before = message.approximate_receive_count
        return original(self, message)

    return add_message
