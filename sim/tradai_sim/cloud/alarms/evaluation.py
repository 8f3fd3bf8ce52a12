"""CloudWatch's rules for a metric alarm's next state, on plain datapoints (no moto here).

The input is the alarm's *evaluation range*: one value per period, oldest first, ``None`` for
a period without data. The rules, from "Using Amazon CloudWatch alarms" and "Configuring how
CloudWatch alarms treat missing data"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):

* at least Evaluation Periods (N) real datapoints in the range: the N most recent real ones are
  evaluated and the treatment of missing data is not needed;
* fewer: every real datapoint in the range is evaluated and the rest of the N are filled in
  with the treatment (``breaching`` / ``notBreaching``), as few fills as possible;
  ``missing`` and ``ignore`` fill nothing: no real datapoint at all means INSUFFICIENT_DATA
  (``missing``) or the current state (``ignore``);
* ALARM when at least Datapoints to Alarm (M) evaluated datapoints breach, OK otherwise;
* premature ALARM: with ``missing``, when every real datapoint breaches and the oldest is at
  least M periods old, the alarm goes to ALARM even with fewer than M of them (``ignore``
  keeps its state); when they are younger, the state is not yet known (INSUFFICIENT_DATA).

AWS does not document the size of the evaluation range; its examples use N + 2 (3 of 3 with
a range of 5; a one-day, one-period alarm looks back about three days), so that is ours.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
TREATMENTS = ("missing", "notBreaching", "breaching", "ignore")
RANGE_EXTRA_PERIODS = 2

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}

# How a verdict was reached (reasons.py words each one as AWS does).
THRESHOLD, NO_DATA, PREMATURE, UNKNOWN, LOW_SAMPLES = (
    "threshold", "no-data", "premature", "unknown", "low-samples")


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods CloudWatch retrieves when it evaluates the alarm."""
    return evaluation_periods + RANGE_EXTRA_PERIODS


@dataclass(frozen=True)
class Rule:
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: str
    threshold: float
    treat_missing_data: str = "missing"
    ignore_low_samples: bool = False  # EvaluateLowSampleCountPercentile=ignore

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison {self.comparison!r} is not supported")
        if self.treat_missing_data not in TREATMENTS:
            raise ValueError(f"TreatMissingData {self.treat_missing_data!r} is not one of "
                             f"{', '.join(TREATMENTS)}")
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError("DatapointsToAlarm must be between 1 and EvaluationPeriods")

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)


@dataclass(frozen=True)
class Verdict:
    state: str | None  # None: the alarm keeps its current state
    why: str
    evaluated: tuple[int, ...]  # indexes (into the range) of the real datapoints evaluated
    filled: int  # missing datapoints filled in with the treatment
    breaching: int  # breaching datapoints among the evaluated ones, fills included


def evaluate(rule: Rule, values: Sequence[float | None],
             low_samples: Sequence[bool] | None = None) -> Verdict:
    n, m = rule.evaluation_periods, rule.datapoints_to_alarm
    real = [i for i, v in enumerate(values) if v is not None]
    if len(real) >= n:
        used = tuple(real[-n:])
        return _low_samples(rule, used, low_samples) or _threshold(rule, values, used, 0, 0)

    used, fill = tuple(real), n - len(real)
    low = _low_samples(rule, used, low_samples)
    if low:
        return low
    treatment = rule.treat_missing_data
    if treatment in ("breaching", "notBreaching"):
        fills = fill if treatment == "breaching" else 0
        return _threshold(rule, values, used, fill, fills, NO_DATA if not used else THRESHOLD)

    keep = INSUFFICIENT_DATA if treatment == "missing" else None  # "ignore" keeps the state
    if not used:
        return Verdict(keep, NO_DATA, (), fill, 0)
    breaching = sum(rule.breaches(values[i]) for i in used)  # type: ignore[arg-type]
    if breaching >= m or breaching < len(used):
        # M real breaches are enough; a real non-breaching datapoint settles OK
        return _threshold(rule, values, used, 0, 0)
    oldest_age = len(values) - used[0]  # 1: the most recent period
    if oldest_age >= m:
        return Verdict(ALARM if treatment == "missing" else None, PREMATURE, used, 0, breaching)
    return Verdict(keep, UNKNOWN, used, fill, breaching)


def _threshold(rule: Rule, values: Sequence[float | None], used: tuple[int, ...], filled: int,
               breaching_fills: int, why: str = THRESHOLD) -> Verdict:
    breaching = breaching_fills + sum(rule.breaches(values[i]) for i in used)  # type: ignore[arg-type]
    state = ALARM if breaching >= rule.datapoints_to_alarm else OK
    return Verdict(state, why, used, filled, breaching)


def _low_samples(rule: Rule, used: tuple[int, ...],
                 low_samples: Sequence[bool] | None) -> Verdict | None:
    """A percentile alarm told to ignore low sample counts waits for enough data."""
    if rule.ignore_low_samples and low_samples and any(low_samples[i] for i in used):
        return Verdict(None, LOW_SAMPLES, used, 0, 0)
    return None
