"""Datapoints to one value per alarm period (``tradai_sim.cloud.alarms.statistics``)."""

from __future__ import annotations

import pytest

from tradai_sim.cloud.alarms.statistics import (
    Sample,
    aggregate,
    check_statistic,
    low_sample_threshold,
    period_starts,
    series,
)

T0 = 1_800_000_000.0  # a multiple of 60 and of 300


def test_only_completed_periods_aligned_to_the_period_are_evaluated() -> None:
    """The newest evaluated datapoint is the last whole period (AWS's reason data shows
    e.g. queryDate 11:26:05 with the newest datapoint at 11:25:00):
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    assert period_starts(T0 + 65, 60, 3) == [T0 - 120, T0 - 60, T0]
    assert period_starts(T0 + 60, 60, 1) == [T0]
    assert period_starts(T0 + 299, 300, 2) == [T0 - 600, T0 - 300]


@pytest.mark.parametrize(("statistic", "value"), [
    ("Maximum", 9.0), ("Minimum", 1.0), ("Sum", 20.0), ("SampleCount", 5.0), ("Average", 4.0),
])
def test_standard_statistics_combine_single_values_and_statistic_sets(
        statistic: str, value: float) -> None:
    """A statistic set (PutMetricData StatisticValues) counts with its SampleCount, Sum,
    Minimum and Maximum:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html
    """
    samples = [Sample(T0, value=2.0), Sample(T0 + 1, value=9.0),
               Sample(T0 + 2, stats=(3.0, 9.0, 1.0, 5.0))]
    assert aggregate(samples, statistic) == (value, 5.0)


def test_percentile_is_nearest_rank_over_single_values_only() -> None:
    samples = [Sample(T0, value=float(v)) for v in range(1, 101)]
    samples.append(Sample(T0, stats=(10.0, 1e6, 1e5, 1e5)))  # cannot take part in a percentile
    assert aggregate(samples, "p99") == (99.0, 100.0)
    assert aggregate(samples, "p50") == (50.0, 100.0)
    assert aggregate(samples, "p100") == (100.0, 100.0)
    assert aggregate([Sample(T0, stats=(1.0, 1.0, 1.0, 1.0))], "p90") == (None, 0.0)


def test_a_period_without_datapoints_is_missing_and_units_filter() -> None:
    samples = [Sample(T0 - 30, value=1.0, unit="Count"), Sample(T0 + 10, value=7.0,
                                                                unit="Seconds")]
    points = series(samples, "Maximum", 60, [T0 - 60, T0, T0 + 60])
    assert [p.value for p in points] == [1.0, 7.0, None]
    points = series(samples, "Maximum", 60, [T0 - 60, T0], unit="Seconds")
    assert [p.value for p in points] == [None, 7.0]


def test_low_sample_count_threshold_for_percentiles() -> None:
    """"For percentiles between 0.5 and 1.00, this setting is used when there are fewer than
    10/(1-percentile) data points ... For percentiles between 0 and 0.5, ... 10/percentile":
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    """
    assert low_sample_threshold("p99") == pytest.approx(1000)
    assert low_sample_threshold("p10") == pytest.approx(100)
    assert low_sample_threshold("p50") == pytest.approx(20)


def test_unknown_statistics_are_named() -> None:
    check_statistic("p99.9")
    with pytest.raises(ValueError, match="'Median'"):
        check_statistic("Median")
    with pytest.raises(ValueError, match="'tm90'"):
        check_statistic("tm90")
