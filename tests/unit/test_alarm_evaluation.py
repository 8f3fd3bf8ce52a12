"""CloudWatch's alarm evaluation rules on plain datapoints (``tradai_sim.cloud.alarms.evaluation``).

The tables are AWS's own examples: a range is written oldest first, ``0`` a non-breaching
datapoint, ``X`` a breaching one, ``-`` a missing one; the threshold is 1 (>=).
"""

from __future__ import annotations

import pytest

from tradai_sim.cloud.alarms.definition import AlarmDefinition
from tradai_sim.cloud.alarms.evaluation import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    PREMATURE,
    Rule,
    evaluate,
    evaluation_range,
)

KEEP = None  # "Retain current state"
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def points(pattern: str) -> list[float | None]:
    return [{"0": 0.0, "X": 5.0, "-": None}[c] for c in pattern.split()]


def verdicts(pattern: str, n: int, m: int) -> tuple[str | None, ...]:
    return tuple(evaluate(Rule(n, m, "GreaterThanOrEqualToThreshold", 1.0, t),
                          points(pattern)).state for t in TREATMENTS)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("0 - X - X", (OK, OK, OK, OK)),
    ("- - - - 0", (OK, OK, OK, OK)),
    ("- - - - -", (INSUFFICIENT_DATA, KEEP, ALARM, OK)),
    ("0 X X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("- - X - -", (ALARM, KEEP, ALARM, OK)),
])
def test_three_of_three_alarm_follows_aws_missing_data_table(
        pattern: str, expected: tuple[str | None, ...]) -> None:
    """AWS's first table (Datapoints to Alarm = Evaluation Periods = 3, evaluation range 5):
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    (section "How alarm state is evaluated when data is missing")."""
    assert verdicts(pattern, 3, 3) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("0 - X - X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 0 X 0 X", (ALARM, ALARM, ALARM, ALARM)),
    ("0 - X - -", (OK, OK, ALARM, OK)),
    ("- - - - 0", (OK, OK, ALARM, OK)),
    ("- - - X -", (ALARM, KEEP, ALARM, OK)),
])
def test_two_of_three_alarm_follows_aws_m_out_of_n_table(
        pattern: str, expected: tuple[str | None, ...]) -> None:
    """AWS's second table, a 2 out of 3 ("M out of N") alarm with evaluation range 5:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    assert verdicts(pattern, 3, 2) == expected


def test_a_lone_recent_breaching_datapoint_is_not_yet_an_alarm() -> None:
    """"the alarm does not go immediately into ALARM state when the data is either - - - - X or
    - - - X - and Datapoints to Alarm is 3" (section "Avoiding premature transitions to alarm
    state"); the earlier version of AWS's table gave - - - - X: Insufficient data, Retain
    current state, ALARM, OK.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    assert verdicts("- - - - X", 3, 3) == (INSUFFICIENT_DATA, KEEP, ALARM, OK)
    assert verdicts("- - - X -", 3, 3) == (INSUFFICIENT_DATA, KEEP, ALARM, OK)


def test_premature_alarm_when_the_oldest_breaching_datapoint_is_at_least_m_periods_old() -> None:
    """"alarms are designed to always go into ALARM state when the oldest available breaching
    datapoint ... is at least as old as the value of Datapoints to Alarm, and all other more
    recent data points are breaching or missing", also for M out of N alarms.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    verdict = evaluate(Rule(3, 3, "GreaterThanOrEqualToThreshold", 1.0), points("- - X - -"))
    assert (verdict.state, verdict.why) == (ALARM, PREMATURE)
    # a breaching datapoint after it changes nothing; a non-breaching one anywhere settles OK
    assert verdicts("- - X X -", 3, 3)[0] == ALARM
    assert verdicts("- 0 X - -", 3, 3)[0] == OK
    assert verdicts("- X - - -", 3, 2)[0] == ALARM


def test_enough_real_datapoints_are_evaluated_without_the_missing_data_treatment() -> None:
    """"If some data points in the evaluation range are missing, but the total number of
    existing data points ... is equal to or more than the alarm's Evaluation Periods,
    CloudWatch evaluates the alarm state based on the most recent real data points ...
    the value you set for how to treat missing data is not needed and is ignored."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    for treatment in TREATMENTS:
        verdict = evaluate(Rule(3, 3, "GreaterThanOrEqualToThreshold", 1.0, treatment),
                           points("X X - X -"))
        assert (verdict.state, verdict.filled, verdict.evaluated) == (ALARM, 0, (0, 1, 3))


def test_missing_datapoints_are_filled_in_as_few_times_as_possible() -> None:
    """"CloudWatch fills in the missing data points with the result you specified ... However,
    all real data points in the evaluation range are included in the evaluation. CloudWatch
    uses missing data points only as few times as possible."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    verdict = evaluate(Rule(3, 3, "GreaterThanOrEqualToThreshold", 1.0, "breaching"),
                       points("X - - - X"))
    assert (verdict.state, verdict.filled, verdict.breaching) == (ALARM, 1, 3)
    verdict = evaluate(Rule(3, 3, "GreaterThanOrEqualToThreshold", 1.0, "breaching"),
                       points("0 - - - X"))
    assert (verdict.state, verdict.filled, verdict.breaching) == (OK, 1, 2)


@pytest.mark.parametrize(("pattern", "n", "m", "state"), [
    ("- - X 0 X", 3, 2, ALARM),  # non-consecutive breaches count
    ("- - 0 X 0", 3, 2, OK),
    ("X X 0 0 X", 3, 2, OK),  # breaches older than the last N real datapoints do not count
    ("0 0 0 0 X", 1, 1, ALARM),
    ("X X X X 0", 1, 1, OK),
    ("- X 0 X X X", 4, 3, ALARM),
])
def test_m_out_of_n_counts_breaches_among_the_last_n_datapoints(
        pattern: str, n: int, m: int, state: str) -> None:
    """"Datapoints to Alarm is the number of data points within the Evaluation Periods that
    must be breaching ... The breaching data points don't have to be consecutive."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    """
    assert evaluate(Rule(n, m, "GreaterThanOrEqualToThreshold", 1.0), points(pattern)).state \
        == state


@pytest.mark.parametrize(("operator", "below", "at", "above"), [
    ("GreaterThanOrEqualToThreshold", OK, ALARM, ALARM),
    ("GreaterThanThreshold", OK, OK, ALARM),
    ("LessThanThreshold", ALARM, OK, OK),
    ("LessThanOrEqualToThreshold", ALARM, ALARM, OK),
])
def test_comparison_operator_is_applied_to_the_threshold(
        operator: str, below: str, at: str, above: str) -> None:
    """ComparisonOperator compares the statistic with the Threshold:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    """
    rule = Rule(1, 1, operator, 2.0)
    assert [evaluate(rule, [None, None, v]).state for v in (1.0, 2.0, 3.0)] == [below, at, above]


def test_evaluation_range_is_two_periods_more_than_evaluation_periods() -> None:
    """AWS does not publish the size; its examples retrieve 5 datapoints for 3 evaluation
    periods ("5 is the evaluation range for the alarm").
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    assert evaluation_range(3) == 5
    assert evaluation_range(1) == 3
    # a datapoint that left the range is gone: a 1-of-1 alarm on "X - -" is premature ALARM
    # now, INSUFFICIENT_DATA once the X is out of the 3-period range
    rule = Rule(1, 1, "GreaterThanOrEqualToThreshold", 1.0)
    assert evaluate(rule, points("X - -")).state == ALARM
    assert evaluate(rule, points("- - -")).state == INSUFFICIENT_DATA


def test_percentile_alarm_told_to_ignore_low_sample_counts_keeps_its_state() -> None:
    """EvaluateLowSampleCountPercentile=ignore: "the alarm ignore[s] the metric while the sample
    size is low, and wait[s] to evaluate it until there is enough data".
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    (section "Percentile-based alarms and low data samples")."""
    rule = Rule(1, 1, "GreaterThanThreshold", 1.0, ignore_low_samples=True)
    assert evaluate(rule, [None, None, 5.0], [False, False, True]).state is None
    assert evaluate(rule, [None, None, 5.0], [False, False, False]).state == ALARM
    evaluating = Rule(1, 1, "GreaterThanThreshold", 1.0)
    assert evaluate(evaluating, [None, None, 5.0], [False, False, True]).state == ALARM


def test_rule_refuses_settings_cloudwatch_refuses() -> None:
    with pytest.raises(ValueError, match="DatapointsToAlarm"):
        Rule(2, 3, "GreaterThanThreshold", 1.0)
    with pytest.raises(ValueError, match="TreatMissingData"):
        Rule(1, 1, "GreaterThanThreshold", 1.0, "sometimes")
    with pytest.raises(ValueError, match="comparison"):
        Rule(1, 1, "LessThanLowerOrGreaterThanUpperThreshold", 1.0)


def test_dynamodb_alarms_always_ignore_missing_data() -> None:
    """"Alarms that evaluate metrics in the AWS/DynamoDB namespace always ignore missing data
    even if you choose a different option for how the alarm should treat missing data."
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
    """
    def alarm(namespace: str) -> AlarmDefinition:
        return AlarmDefinition(
            name="a", arn="arn", namespace=namespace, metric="ThrottledRequests",
            dimensions=(), statistic="Sum", period=60, evaluation_periods=1,
            datapoints_to_alarm=1, comparison="GreaterThanThreshold", threshold=0.0,
            treat_missing_data="breaching")

    assert evaluate(alarm("AWS/DynamoDB").rule, points("- - -")).state is KEEP
    assert evaluate(alarm("AWS/SQS").rule, points("- - -")).state == ALARM
