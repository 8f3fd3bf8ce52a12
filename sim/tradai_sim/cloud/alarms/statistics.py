"""From stored datapoints to one value per alarm period: the alarm's Statistic or percentile.

Periods are aligned to multiples of the period since the epoch and only completed ones are
evaluated (an alarm's reason data shows the newest evaluated datapoint at the start of the
last whole period). A stored datapoint is one value or a statistic set (PutMetricData's
StatisticValues); percentiles can only be computed from single values, so statistic sets do
not count towards them. AWS does not document its percentile interpolation; nearest rank here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

STANDARD = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,2})?|100)$")


@dataclass(frozen=True)
class Sample:
    timestamp: float  # simulated epoch seconds
    value: float | None = None
    stats: tuple[float, float, float, float] | None = None  # (count, sum, minimum, maximum)
    unit: str | None = None


@dataclass(frozen=True)
class PeriodValue:
    start: float  # simulated epoch seconds
    value: float | None  # None: no datapoint in this period
    sample_count: float


def is_percentile(statistic: str) -> bool:
    return bool(_PERCENTILE.match(statistic))


def check_statistic(statistic: str) -> None:
    if statistic not in STANDARD and not is_percentile(statistic):
        raise ValueError(f"statistic {statistic!r} is not supported (known: "
                         f"{', '.join(STANDARD)}, pNN.NN)")


def low_sample_threshold(statistic: str) -> float:
    """Below this many samples a percentile is "low sample count" (AWS: 10/(1-p) for p >= 0.5,
    10/p below)."""
    q = float(statistic[1:]) / 100
    if q >= 1.0:
        return 0.0
    return 10 / (1 - q) if q >= 0.5 else 10 / q


def period_starts(now: float, period: int, count: int) -> list[float]:
    """The starts of the ``count`` most recent completed periods at ``now``, oldest first."""
    end = math.floor(now / period) * period
    return [float(end - period * (count - i)) for i in range(count)]


def series(samples: Iterable[Sample], statistic: str, period: int, starts: list[float],
           unit: str | None = None) -> list[PeriodValue]:
    buckets: dict[float, list[Sample]] = {s: [] for s in starts}
    for sample in samples:
        if unit is not None and sample.unit != unit:
            continue
        start = math.floor(sample.timestamp / period) * period
        if start in buckets:
            buckets[start].append(sample)
    return [PeriodValue(start, *aggregate(buckets[start], statistic)) for start in starts]


def aggregate(samples: list[Sample], statistic: str) -> tuple[float | None, float]:
    """The statistic over one period's samples, and the number of samples it saw."""
    if is_percentile(statistic):
        values = sorted(s.value for s in samples if s.value is not None)
        if not values:
            return None, 0.0
        rank = math.ceil(float(statistic[1:]) / 100 * len(values))
        return values[min(len(values), max(rank, 1)) - 1], float(len(values))
    count = total = 0.0
    low, high = math.inf, -math.inf
    for s in samples:
        if s.stats is not None:
            c, sm, mn, mx = s.stats
        elif s.value is not None:
            c, sm, mn, mx = 1.0, s.value, s.value, s.value
        else:
            continue
        count, total, low, high = count + c, total + sm, min(low, mn), max(high, mx)
    if count == 0:
        return None, 0.0
    value = {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high,
             "Average": total / count}[statistic]
    return value, count
