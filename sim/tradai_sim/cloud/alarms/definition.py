"""What a metric alarm says, as plain data (built from moto's alarm by ``moto_view``)."""

from __future__ import annotations

from dataclasses import dataclass

from tradai_sim.cloud.alarms.evaluation import ALARM, INSUFFICIENT_DATA, OK, Rule
from tradai_sim.cloud.alarms.statistics import is_percentile


@dataclass(frozen=True)
class AlarmDefinition:
    name: str
    arn: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), in the alarm's order
    statistic: str  # a standard statistic, or a percentile such as "p99" (ExtendedStatistic)
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing_data: str = "missing"
    unit: str | None = None
    low_sample_percentile: str | None = None  # EvaluateLowSampleCountPercentile
    description: str | None = None
    actions_enabled: bool = True
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    configuration_updated: float | None = None  # simulated epoch seconds

    @property
    def is_percentile(self) -> bool:
        return is_percentile(self.statistic)

    @property
    def rule(self) -> Rule:
        # AWS: "Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore
        # missing data even if you choose a different option"
        treatment = "ignore" if self.namespace == "AWS/DynamoDB" else self.treat_missing_data
        return Rule(self.evaluation_periods, self.datapoints_to_alarm, self.comparison,
                    self.threshold, treatment,
                    ignore_low_samples=(self.is_percentile
                                        and self.low_sample_percentile == "ignore"))

    @property
    def metric_key(self) -> tuple[str, str, frozenset[tuple[str, str]]]:
        """A metric is its namespace, name and exact set of dimensions."""
        return self.namespace, self.metric, frozenset(self.dimensions)

    def actions_for(self, state: str) -> tuple[str, ...]:
        return {ALARM: self.alarm_actions, OK: self.ok_actions,
                INSUFFICIENT_DATA: self.insufficient_data_actions}[state]
