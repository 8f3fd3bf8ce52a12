"""EventBridge schedule expressions: ``rate(...)`` and ``cron(...)`` with AWS semantics.

AWS cron has six fields (minutes hours day-of-month month day-of-week year), one of
day-of-month / day-of-week must be ``?``, and day-of-week counts SUN=1..SAT=7.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_DOW_NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


class ScheduleError(ValueError):
    """A schedule expression that EventBridge would reject."""


@dataclass(frozen=True)
class Schedule:
    expression: str
    rate_seconds: int | None = None
    cron: str | None = None  # five-field croniter form
    year: str = "*"

    def next_after(self, timestamp: float) -> float:
        """The first firing time strictly after ``timestamp`` (epoch seconds, UTC)."""
        if self.rate_seconds is not None:
            return timestamp + self.rate_seconds
        assert self.cron is not None
        it = croniter(self.cron, datetime.fromtimestamp(timestamp, tz=UTC))
        for _ in range(1000):
            nxt = it.get_next(datetime)
            if self.year in ("*", "?") or _year_matches(self.year, nxt.year):
                return nxt.timestamp()
        raise ScheduleError(f"{self.expression}: no firing time in the next 1000 matches")


def _year_matches(field: str, year: int) -> bool:
    for part in field.split(","):
        if "-" in part:
            lo, hi = part.split("-", 1)
            if int(lo) <= year <= int(hi):
                return True
        elif int(part) == year:
            return True
    return False


def _convert_dow(field: str) -> str:
    """AWS day-of-week (1-7 or SUN-SAT) to croniter's (0-6)."""
    if field in ("?", "*"):
        return "*"

    def conv(token: str) -> str:
        step = ""
        if "/" in token:
            token, step = token.split("/", 1)
            step = "/" + step
        if "#" in token:
            day, nth = token.split("#", 1)
            return f"{conv(day)}#{nth}"
        if "-" in token:
            lo, hi = token.split("-", 1)
            return f"{conv(lo)}-{conv(hi)}{step}"
        up = token.upper()
        if up in _DOW_NAMES:
            return f"{_DOW_NAMES[up]}{step}"
        if up == "*":
            return "*" + step
        n = int(token)
        if not 1 <= n <= 7:
            raise ScheduleError(f"day-of-week {n} is outside 1-7")
        return f"{n - 1}{step}"

    return ",".join(conv(t) for t in field.split(","))


def parse_schedule(expression: str) -> Schedule:
    expr = expression.strip()
    m = _RATE.match(expr)
    if m:
        value, unit = int(m.group(1)), m.group(2)
        if value <= 0:
            raise ScheduleError(f"{expression!r}: rate value must be positive")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(
                f"{expression!r}: use the singular unit for 1 and the plural otherwise"
            )
        return Schedule(expr, rate_seconds=value * _UNIT_SECONDS[unit.rstrip("s")])
    m = _CRON.match(expr)
    if not m:
        raise ScheduleError(f"{expression!r}: expected rate(N unit) or cron(6 fields)")
    fields = m.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: cron needs 6 fields, got {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'"
        )
    try:
        five = " ".join([minute, hour, "*" if dom == "?" else dom, month, _convert_dow(dow)])
        if not croniter.is_valid(five):
            raise ScheduleError(f"{expression!r}: invalid cron fields")
        if year not in ("*", "?"):
            _year_matches(year, 2000)
    except (ValueError, KeyError) as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from exc
    return Schedule(expr, cron=five, year=year)
