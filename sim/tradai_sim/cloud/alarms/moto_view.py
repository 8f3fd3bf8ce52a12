"""The alarms part's window onto moto's CloudWatch backend, in-process: alarms as plain
definitions, stored datapoints as samples, and the writes (datapoints, alarm state).

moto keeps timestamps as naive UTC datetimes; here they are simulated epoch seconds.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tradai_sim.cloud.alarms.datum import Datum
from tradai_sim.cloud.alarms.definition import AlarmDefinition
from tradai_sim.cloud.alarms.evaluation import COMPARISONS, TREATMENTS
from tradai_sim.cloud.alarms.statistics import Sample, check_statistic

MetricKey = tuple[str, str, frozenset[tuple[str, str]]]


def cloudwatch_backend(account_id: str, region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id][region]


def sqs_backend(account_id: str, region: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account_id][region]


def epoch(when: datetime | None) -> float | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def moto_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def metric_alarms(backend: Any) -> list[Any]:
    """moto's metric alarms (composite alarms have a rule and are not evaluated here)."""
    return [a for a in list(backend.alarms.values()) if getattr(a, "rule", None) is None]


def definition(alarm: Any) -> AlarmDefinition:
    """Raises ValueError naming what the local evaluator does not support."""
    if alarm.metric_data_queries:
        raise ValueError("alarms on metric math or multiple metrics are not evaluated locally")
    statistic = alarm.extended_statistic or alarm.statistic
    if not statistic:
        raise ValueError("the alarm has neither Statistic nor ExtendedStatistic")
    check_statistic(statistic)
    if alarm.comparison_operator not in COMPARISONS:
        raise ValueError(f"ComparisonOperator {alarm.comparison_operator} (anomaly detection) "
                         f"is not evaluated locally")
    treatment = alarm.treat_missing_data or "missing"
    if treatment not in TREATMENTS:
        raise ValueError(f"TreatMissingData {treatment!r} is not valid")
    periods = int(alarm.evaluation_periods)
    return AlarmDefinition(
        name=alarm.name, arn=alarm.alarm_arn, namespace=alarm.namespace,
        metric=alarm.metric_name,
        dimensions=tuple((d.name, d.value) for d in alarm.dimensions),
        statistic=statistic, period=int(alarm.period), evaluation_periods=periods,
        datapoints_to_alarm=int(alarm.datapoints_to_alarm or periods),
        comparison=alarm.comparison_operator, threshold=float(alarm.threshold),
        treat_missing_data=treatment, unit=alarm.unit,
        low_sample_percentile=alarm.evaluate_low_sample_count_percentile,
        description=alarm.description, actions_enabled=bool(alarm.actions_enabled),
        alarm_actions=tuple(alarm.alarm_actions or ()), ok_actions=tuple(alarm.ok_actions),
        insufficient_data_actions=tuple(alarm.insufficient_data_actions),
        configuration_updated=epoch(alarm.configuration_updated_timestamp),
    )


def samples_by_metric(backend: Any, since: float) -> dict[MetricKey, list[Sample]]:
    """Every stored datapoint newer than ``since``, grouped by metric (one pass over all)."""
    out: dict[MetricKey, list[Sample]] = defaultdict(list)
    for d in list(backend.metric_data):
        ts = epoch(d.timestamp)
        if ts is None or ts < since:
            continue
        key, sample = _sample(d, ts)
        out[key].append(sample)
    return out


def _sample(d: Any, ts: float) -> tuple[MetricKey, Sample]:
    key = (d.namespace, d.name, frozenset((x.name, x.value) for x in d.dimensions))
    if hasattr(d, "sample_count"):  # a statistic set
        return key, Sample(ts, stats=(float(d.sample_count), float(d.sum), float(d.min),
                                      float(d.max)), unit=d.unit)
    return key, Sample(ts, value=float(d.value), unit=d.unit)


class SampleIndex:
    """``samples_by_metric`` without a pass over every datapoint the stack ever stored: moto
    only appends to ``metric_data`` (CloudWatch keeps datapoints for 15 months), so each call
    converts the datapoints added since the last one into per-metric time-ordered lists, and
    a window is found by bisection. One reader (the engine's thread)."""

    def __init__(self) -> None:
        self._source: list[Any] | None = None
        self._seen = 0
        self._by_metric: dict[MetricKey, tuple[list[float], list[Sample]]] = {}
        self.converted = 0  # datapoints converted so far (each once)

    def since(self, backend: Any, since: float) -> dict[MetricKey, list[Sample]]:
        data = backend.metric_data
        if data is not self._source or len(data) < self._seen:  # a new backend: start over
            self._source, self._seen, self._by_metric = data, 0, {}
        new = data[self._seen:]
        self._seen += len(new)
        for d in new:
            ts = epoch(d.timestamp)
            if ts is None:
                continue
            key, sample = _sample(d, ts)
            times, samples = self._by_metric.setdefault(key, ([], []))
            at = bisect.bisect_right(times, ts)  # usually the end: datapoints come in order
            times.insert(at, ts)
            samples.insert(at, sample)
            self.converted += 1
        return {key: samples[bisect.bisect_left(times, since):]
                for key, (times, samples) in self._by_metric.items()
                if times and times[-1] >= since}


def put_datums(backend: Any, datums: Iterable[Datum]) -> None:
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in datums:
        by_namespace[d.namespace].append({
            "MetricName": d.name, "Value": d.value, "Unit": d.unit,
            "Timestamp": moto_time(d.timestamp),
            "Dimensions": [{"Name": n, "Value": v} for n, v in d.dimensions]})
    for namespace, data in by_namespace.items():
        backend.put_metric_data(namespace, data)


def set_state(alarm: Any, state: str, reason: str, reason_data: str, at: float) -> None:
    """Change the alarm's state the way moto does (its own history list included), stamped
    with simulated time."""
    alarm.update_state(reason, reason_data, state)
    alarm.state_updated_timestamp = moto_time(at)
    alarm.state_transitioned_timestamp = moto_time(at)
