"""EventBridge Scheduler (the ``scheduler`` API): when each schedule fires, on the simulated clock.

moto stores schedules and never runs them. A schedule fires at its ``rate``, ``cron`` (in its
ScheduleExpressionTimezone) or one-time ``at`` times, only between its StartDate and EndDate
and while ENABLED; a FLEXIBLE time window delays each invocation by a random time within
MaximumWindowInMinutes. A late tick fires once, never a burst.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from tradai.topology.schedule import ScheduleError, _year_matches, parse_schedule

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def _epoch(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class Expression:
    """``rate(...)``, ``cron(...)`` or ``at(...)`` with the schedule's time zone."""

    def __init__(self, expression: str, timezone: str | None) -> None:
        self.text = expression.strip()
        self.tz = ZoneInfo(timezone or "UTC")
        m = _AT.match(self.text)
        self.at: float | None = None
        if m:
            self.at = datetime.fromisoformat(m.group(1)).replace(tzinfo=self.tz).timestamp()
            self.parsed = None
        else:
            self.parsed = parse_schedule(self.text)  # raises ScheduleError

    @property
    def one_time(self) -> bool:
        return self.at is not None

    def next_after(self, ts: float, anchor: float) -> float | None:
        """The first tick strictly after ``ts``; ``rate`` ticks count from ``anchor``."""
        if self.at is not None:
            return self.at if self.at > ts else None
        assert self.parsed is not None
        if self.parsed.rate_seconds is not None:
            period = self.parsed.rate_seconds
            k = max(1, int((ts - anchor) // period) + 1)
            return anchor + k * period
        assert self.parsed.cron is not None
        it = croniter(self.parsed.cron, datetime.fromtimestamp(ts, tz=UTC).astimezone(self.tz))
        for _ in range(1000):
            nxt = it.get_next(datetime)
            if self.parsed.year in ("*", "?") or _year_matches(self.parsed.year, nxt.year):
                return float(nxt.timestamp())
        return None


@dataclass
class ScheduleClock:
    group: str
    name: str
    arn: str
    modified: Any
    spec: dict[str, Any]
    anchor: float  # when it was seen (or changed): where a rate without StartDate counts from
    expression: Expression | None = None
    error: str | None = None
    tick: float | None = None  # the scheduled time of the next invocation (simulated)
    fire_at: float | None = None  # tick plus the flexible window's delay
    last_tick: float | None = None
    count: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def arm(self, now: float, rng: random.Random) -> None:
        self.tick = self.fire_at = None
        if self.spec.get("State", "ENABLED") != "ENABLED":
            return
        try:
            self.expression = Expression(self.spec["ScheduleExpression"],
                                         self.spec.get("ScheduleExpressionTimezone"))
            self.error = None
        except (ScheduleError, ValueError, KeyError) as exc:
            self.expression, self.error = None, str(exc)
            return
        start = _epoch(self.spec.get("StartDate"))
        anchor = start if start is not None else self.anchor
        after = max(now, start - 1e-6) if start is not None else now
        if self.last_tick is not None:
            after = max(after, self.last_tick)
        tick = self.expression.next_after(after, anchor)
        end = _epoch(self.spec.get("EndDate"))
        if tick is None or (end is not None and tick > end):
            return
        self.tick = tick
        window = self.spec.get("FlexibleTimeWindow") or {}
        delay = 0.0
        if window.get("Mode") == "FLEXIBLE":
            delay = rng.uniform(0.0, 60.0 * float(window.get("MaximumWindowInMinutes", 0)))
        self.fire_at = tick + delay


class ScheduleBook:
    """Schedule clocks by (group, name), updated from ListSchedules / GetSchedule."""

    def __init__(self) -> None:
        self.schedules: dict[tuple[str, str], ScheduleClock] = {}
        self.rng = random.Random(5)  # flexible windows, reproducibly

    def sync(self, listed: list[dict[str, Any]], fetch: Any, now: float) -> None:
        """``listed``: ListSchedules summaries; ``fetch(group, name)``: the full GetSchedule."""
        seen = set()
        for s in listed:
            key = (s["GroupName"], s["Name"])
            seen.add(key)
            cur = self.schedules.get(key)
            if cur is not None and cur.modified == s.get("LastModificationDate"):
                continue
            spec = fetch(*key)
            if cur is None:
                cur = self.schedules[key] = ScheduleClock(key[0], key[1], spec["Arn"],
                                                          s.get("LastModificationDate"), spec,
                                                          anchor=now)
            else:
                cur.spec, cur.modified, cur.anchor = spec, s.get("LastModificationDate"), now
            cur.arm(now, self.rng)
        for gone in set(self.schedules) - seen:
            del self.schedules[gone]

    def due(self, now: float) -> list[ScheduleClock]:
        return [s for s in self.schedules.values() if s.fire_at is not None and s.fire_at <= now]

    def next_fire(self) -> float | None:
        times = [s.fire_at for s in self.schedules.values() if s.fire_at is not None]
        return min(times) if times else None

    def fired(self, clock: ScheduleClock, now: float) -> None:
        clock.last_tick = clock.tick
        clock.count += 1
        clock.arm(now, self.rng)
