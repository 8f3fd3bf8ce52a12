"""An invariant's verdict: what was measured, against which deadline, in simulated time.

An invariant is a check (``() -> (ok, detail)``) that the drill watches for its whole run:
the first call (the steady state, before any fault) registers it, and the sampler thread then
evaluates every registered check about once a wall second. After the method, the verdict's
value is the simulated time from the fault (or ``since``) until the check held again for good:
the first passing observation after the last failing one, not the moment the hypothesis
happened to look. A check that does not hold yet is polled until its deadline.

Probes of the drill extension return ``Verdict.as_dict()``; the playbook's tolerance
(``invariant_held``) reads ``ok``, and the runner's reports read the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tradai_sim.drills.context import DrillContext

POLL_WALL_SECONDS = 0.5
WATCH_WALL_SECONDS = 1.0
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


@dataclass
class Watch:
    check: Check
    observations: list[tuple[float, bool]] = field(default_factory=list)  # (simulated t, ok)
    last_wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, ctx: DrillContext) -> tuple[bool, str]:
        try:
            ok, detail = self.check()
        except Exception as exc:  # a probe that cannot read counts as not holding
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.observations.append((ctx.now(), ok))
            self.last_wall = time.monotonic()
        return ok, detail

    def broke_since(self, since: float) -> bool:
        with self.lock:
            return any(not ok for t, ok in self.observations if t >= since)

    def recovered_at(self, since: float) -> float | None:
        """The first passing observation after the last failing one, since ``since``."""
        with self.lock:
            seen = [(t, ok) for t, ok in self.observations if t >= since]
        last_bad = max((t for t, ok in seen if not ok), default=None)
        if last_bad is None:
            return since if seen else None  # never broken: held from the start
        return min((t for t, ok in seen if ok and t > last_bad), default=None)


def watch_all(ctx: DrillContext) -> None:
    """One round of observations (the sampler's thread calls this)."""
    for watch in list(ctx.watches.values()):
        if time.monotonic() - watch.last_wall >= WATCH_WALL_SECONDS:
            watch.observe(ctx)


def recovers(ctx: DrillContext, name: str, check: Check, deadline_s: float | None,
             since: float | None = None, baseline_wait_s: float = 120.0,
             must_break: bool = False) -> Verdict:
    """Before any fault: ``check`` must hold (given ``baseline_wait_s`` simulated seconds to
    settle), and from then on it is watched. After a fault: the simulated seconds from
    ``since`` (the last fault's start) until it held again for good, failed if later than
    ``deadline_s``.

    ``must_break``: the fault is meant to break this invariant, so a check that was never seen
    failing since ``since`` has not recovered from anything: it is polled until it fails and
    holds again, and fails the verdict if it never broke (a fault that took no effect, or one
    whose effect the control plane had not applied yet when the hypothesis first looked)."""
    watch = ctx.watches.setdefault(name, Watch(check))
    watch.check = check  # the latest probe's view (e.g. tickets submitted since the baseline)
    start = since if since is not None else ctx.last_fault_at()
    if start is None:
        ok, detail = _poll(ctx, watch, ctx.now() + baseline_wait_s)
        return Verdict(name, ok, None, "s", None, detail, "baseline")
    limit = ctx.now() if deadline_s is None else start + deadline_s
    # Look a little past the deadline, so a miss says how late recovery was (or never).
    until = max(limit, ctx.now()) + (deadline_s or 0.0) * 0.5
    ok, detail = _poll(ctx, watch, until, since=start if must_break else None)
    if ok and must_break and not watch.broke_since(start):
        return Verdict(name, False, None, "s", deadline_s,
                       f"never broke after the fault (the fault took no visible effect): "
                       f"{detail}", "recovery")
    recovered = watch.recovered_at(start) if ok else None
    if recovered is None:
        return Verdict(name, False, None, "s", deadline_s, detail, "recovery")
    took = round(recovered - start, 1)
    in_time = deadline_s is None or took <= deadline_s
    return Verdict(name, in_time, took, "s", deadline_s, detail, "recovery")


def holds(name: str, ok: bool, value: float | int | None, detail: str,
          deadline: float | None = None, unit: str = "", phase: str = "recovery") -> Verdict:
    return Verdict(name, ok, value, unit, deadline, detail, phase)


def _poll(ctx: DrillContext, watch: Watch, until_sim: float,
          since: float | None = None) -> tuple[bool, str]:
    """Observe until the check holds (and, with ``since``, has failed since then) or until
    ``until_sim``."""
    while True:
        ok, detail = watch.observe(ctx)
        if (ok and (since is None or watch.broke_since(since))) or ctx.now() >= until_sim:
            return ok, detail
        time.sleep(POLL_WALL_SECONDS)
