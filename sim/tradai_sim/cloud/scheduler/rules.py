"""The schedule of every rule with a ScheduleExpression, kept in step with the emulator.

A ``rate`` rule fires every period from when it was seen (or re-enabled), as in AWS; a ``cron``
rule fires at its matching times. A late tick fires once, never a burst of missed ticks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tradai.topology.schedule import Schedule, ScheduleError, parse_schedule


@dataclass
class RuleClock:
    name: str
    arn: str
    expression: str
    state: str
    schedule: Schedule | None = None
    error: str | None = None
    next_fire: float | None = None  # simulated epoch seconds; None while disabled or invalid
    last_fire: float | None = None
    count: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    missing_targets: list[str] = field(default_factory=list)

    def arm(self, now: float) -> None:
        """(Re)start the schedule from ``now``: on first sight, change or re-enable."""
        self.next_fire = None
        if self.state != "ENABLED":
            return
        try:
            self.schedule = parse_schedule(self.expression)
            self.error = None
        except ScheduleError as exc:
            self.schedule, self.error = None, str(exc)
            return
        self.next_fire = self.schedule.next_after(now)

    def advance(self, now: float) -> None:
        """After firing the tick due at ``next_fire``: the next tick strictly after ``now``."""
        assert self.schedule is not None and self.next_fire is not None
        nxt = self.schedule.next_after(self.next_fire)
        while nxt <= now:
            nxt = self.schedule.next_after(nxt)
        self.next_fire = nxt


class RuleBook:
    """Rule clocks by name, updated from ``list_rules`` pages."""

    def __init__(self) -> None:
        self.rules: dict[str, RuleClock] = {}

    def sync(self, listed: list[dict[str, Any]], now: float) -> None:
        seen = set()
        for r in listed:
            expr = r.get("ScheduleExpression")
            if not expr:
                continue
            name = r["Name"]
            seen.add(name)
            state = r.get("State", "ENABLED")
            cur = self.rules.get(name)
            if cur is None:
                cur = self.rules[name] = RuleClock(name, r["Arn"], expr, state)
                cur.arm(now)
            elif cur.expression != expr or cur.state != state:
                cur.expression, cur.state = expr, state
                cur.arm(now)
        for gone in set(self.rules) - seen:
            del self.rules[gone]

    def due(self, now: float) -> list[RuleClock]:
        return [r for r in self.rules.values() if r.next_fire is not None and r.next_fire <= now]

    def next_fire(self) -> float | None:
        times = [r.next_fire for r in self.rules.values() if r.next_fire is not None]
        return min(times) if times else None
