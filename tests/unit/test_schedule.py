from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradai.topology.schedule import ScheduleError, parse_schedule


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_rate() -> None:
    assert parse_schedule("rate(2 minutes)").next_after(100.0) == 220.0
    assert parse_schedule("rate(1 hour)").rate_seconds == 3600


def test_cron_daily_and_weekday_with_aws_day_numbers() -> None:
    daily = parse_schedule("cron(0 3 * * ? *)")
    assert daily.next_after(ts(2026, 11, 26, 4, 0)) == ts(2026, 11, 27, 3, 0)
    # AWS: 1 = SUN ... 7 = SAT; 2026-11-26 is a Thursday (5)
    weekly = parse_schedule("cron(30 9 ? * 2 *)")
    assert weekly.next_after(ts(2026, 11, 26, 0, 0)) == ts(2026, 11, 30, 9, 30)  # Monday
    named = parse_schedule("cron(0 7 ? * MON-FRI *)")
    assert named.next_after(ts(2026, 11, 28, 0, 0)) == ts(2026, 11, 30, 7, 0)  # Sat -> Mon


def test_cron_year_field() -> None:
    s = parse_schedule("cron(0 0 1 1 ? 2028)")
    assert s.next_after(ts(2026, 11, 26)) == ts(2028, 1, 1)


@pytest.mark.parametrize("expr", [
    "rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(5 weeks)",
    "cron(0 3 * * * *)", "cron(0 3 ? * ? *)", "cron(61 3 * * ? *)", "cron(0 3 * *)",
    "cron(0 3 ? * 9 *)", "at 3am",
])
def test_invalid_expressions(expr: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(expr)
