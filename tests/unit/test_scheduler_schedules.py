"""EventBridge Scheduler timing (pure logic): at(), cron in a time zone, Start/EndDate, windows.

https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from tradai_sim.cloud.scheduler.schedules import Expression, ScheduleClock


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _clock(spec: dict[str, object], anchor: float) -> ScheduleClock:
    return ScheduleClock("default", "s", "arn:s", None, dict(spec), anchor=anchor)


def test_at_expression_is_in_the_schedule_time_zone_and_fires_once() -> None:
    e = Expression("at(2030-01-01T09:00:00)", "Europe/Berlin")
    assert e.next_after(0, 0) == _ts("2030-01-01T08:00:00")
    assert e.next_after(_ts("2030-01-01T08:00:00"), 0) is None


def test_cron_expression_follows_its_time_zone() -> None:
    e = Expression("cron(0 9 * * ? *)", "America/New_York")
    assert e.next_after(_ts("2030-07-01T00:00:00"), 0) == _ts("2030-07-01T13:00:00")


def test_rate_counts_from_start_date_and_stops_after_end_date() -> None:
    start = _ts("2030-01-01T00:00:00")
    c = _clock({"ScheduleExpression": "rate(10 minutes)", "StartDate": start,
                "EndDate": start + 1500}, anchor=0)
    c.arm(start - 3600, random.Random(1))
    assert c.tick == start + 600
    c.last_tick = start + 1200
    c.arm(start + 1200, random.Random(1))
    assert c.tick is None  # the next tick (start + 1800) is after EndDate


def test_flexible_window_delays_within_the_maximum_window() -> None:
    c = _clock({"ScheduleExpression": "rate(1 hour)",
                "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}}, 0.0)
    rng = random.Random(3)
    delays = []
    for _ in range(50):
        c.arm(0.0, rng)
        assert c.tick == 3600
        delays.append(c.fire_at - c.tick)  # type: ignore[operator]
    assert all(0 <= d <= 900 for d in delays) and max(delays) > 450


def test_disabled_schedule_does_not_fire() -> None:
    c = _clock({"ScheduleExpression": "rate(1 minute)", "State": "DISABLED"}, 0.0)
    c.arm(0.0, random.Random(1))
    assert c.tick is None and c.fire_at is None
