"""An invariant's verdict: what was measured, against which deadline, in simulated time.

Probes of the drill extension return ``Verdict.as_dict()``; the playbook's tolerance
(``invariant_held``) reads ``ok``, and the runner's reports read the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from tradai_sim.drills.context import DrillContext

POLL_WALL_SECONDS = 0.5
Check = Callable[[], tuple[bool, str]]


@dataclass
class Verdict:
    invariant: str
    ok: bool
    value: float | int | None
    unit: str
    deadline: float | None
    detail: str
    phase: str  # "baseline" (before any fault) or "recovery"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The one line a failed drill prints."""
        measured = "never" if self.value is None else f"{self.value:g} {self.unit}"
        limit = "" if self.deadline is None else f" (deadline {self.deadline:g} {self.unit})"
        return f"{self.invariant}: {measured}{limit}: {self.detail}"


def recovers(ctx: DrillContext, name: str, check: Check, deadline_s: float | None,
             since: float | None = None, baseline_wait_s: float = 120.0) -> Verdict:
    """Before any fault: ``check`` must hold (given ``baseline_wait_s`` simulated seconds to
    settle). After a fault: the simulated seconds from ``since`` (the last fault's start) until
    ``check`` holds, failed if that exceeds ``deadline_s``."""
    start = since if since is not None else ctx.last_fault_at()
    if start is None:
        ok, detail = _poll(ctx, check, ctx.now() + baseline_wait_s)
        return Verdict(name, ok, None, "s", None, detail, "baseline")
    limit = None if deadline_s is None else start + deadline_s
    # Look a little past the deadline so a miss reports how late recovery was (or never).
    ok, detail = _poll(ctx, check, (limit if limit is not None else ctx.now())
                       + (deadline_s or 0.0) * 0.5)
    if not ok:
        return Verdict(name, False, None, "s", deadline_s, detail, "recovery")
    took = round(ctx.now() - start, 1)
    in_time = deadline_s is None or took <= deadline_s
    return Verdict(name, in_time, took, "s", deadline_s, detail, "recovery")


def holds(name: str, ok: bool, value: float | int | None, detail: str,
          deadline: float | None = None, unit: str = "", phase: str = "recovery") -> Verdict:
    return Verdict(name, ok, value, unit, deadline, detail, phase)


def _poll(ctx: DrillContext, check: Check, until_sim: float) -> tuple[bool, str]:
    detail = "not checked"
    while True:
        try:
            ok, detail = check()
        except Exception as exc:  # a probe that cannot read counts as not yet recovered
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if ok or ctx.now() >= until_sim:
            return ok, detail
        time.sleep(POLL_WALL_SECONDS)
