"""A user calling the API through a drill, and what they saw: the error window.

Every call's answer is recorded with its simulated time: an HTTP status (the platform or the
edge answered, even 502/503 with a reason), or no answer at all (a timeout or a reset: a
request lost silently, which a drill counts against the platform).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests

from tradai_sim.drills.context import DrillContext
from tradai_sim.drills.invariants import Verdict, holds

CALL_TIMEOUT_WALL_S = 30.0


@dataclass(frozen=True)
class Call:
    at: float  # simulated
    status: int | None  # None: no answer
    error: str | None = None


def calls(ctx: DrillContext) -> list[Call]:
    return ctx.status_cache.setdefault("_api_calls", [])  # type: ignore[no-any-return]


def run(ctx: DrillContext, path: str, interval_s: float, duration_s: float) -> dict[str, Any]:
    record = calls(ctx)
    end = ctx.now() + duration_s
    ctx.event("load", f"API load started: GET {path} every {interval_s:g} s")
    while ctx.now() < end and not ctx.stop_load.is_set():
        at = ctx.now()
        try:
            r = requests.get(f"{ctx.api_url}{path}", timeout=CALL_TIMEOUT_WALL_S,
                             headers={"Authorization": f"Bearer {ctx.token()}"})
            record.append(Call(at, r.status_code, None if r.ok else r.text[:200]))
        except requests.RequestException as exc:
            record.append(Call(at, None, type(exc).__name__))
        ctx.stop_load.wait(ctx.clock.to_wall(interval_s))
    ctx.event("load", f"API load ended after {len(record)} calls")
    return {"calls": len(record)}


def verdict(ctx: DrillContext, max_window_s: float | None, allow_lost: int) -> Verdict:
    record = calls(ctx)
    if ctx.last_fault_at() is None:  # the steady state: the load has not started yet
        return holds("api-error-window", True, None, "baseline: the load starts with the "
                     "method", unit="s", phase="baseline")
    if not record:
        return holds("api-error-window", False, None, "no API calls were made", unit="s")
    errors = [c for c in record if c.status is None or c.status >= 500]
    lost = [c for c in record if c.status is None]
    window = round(errors[-1].at - errors[0].at, 1) if errors else 0.0
    statuses = Counter(str(c.status or c.error) for c in record)
    reasons = sorted({f"{c.status}: {(c.error or '')[:120]}" for c in errors})[:3]
    detail = (f"{len(record)} calls, {len(errors)} errors ({len(errors) / len(record):.0%}), "
              f"error window {window:g} s, {len(lost)} lost silently; answers "
              + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
              + (f"; e.g. {' | '.join(reasons)}" if reasons else ""))
    ok = len(lost) <= allow_lost and (max_window_s is None or window <= max_window_s)
    return holds("api-error-window", ok, window, detail, deadline=max_window_s, unit="s")
