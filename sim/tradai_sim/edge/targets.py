"""Target groups: each service's task endpoints, their health, round-robin over the healthy.

Health follows the ALB's rules: a new target is ``initial`` (no traffic) until its first check
passes (AWS waits for ``healthy_threshold`` passes: a divergence that keeps start-up brisk) or
``unhealthy_threshold`` consecutive checks fail; ``healthy_threshold`` consecutive passes make
an unhealthy target healthy again, ``unhealthy_threshold`` consecutive failures take a healthy
one out. A refused
connection on live traffic takes the target out at once (it is certainly not serving).

A target whose task is deregistering (ECS DEACTIVATING: the deregistration delay) is
``draining``: no new requests, no health checks; requests already sent to it finish. It is
removed once its task stops (AWS: ``unused`` then gone).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection
from dataclasses import dataclass, field

INITIAL, HEALTHY, UNHEALTHY, DRAINING = "initial", "healthy", "unhealthy", "draining"
DRAINING_REASON = "Target.DeregistrationInProgress"  # describe-target-health's reason code


@dataclass(frozen=True)
class HealthSettings:
    """A target group's health check. Load-balanced services take it from their ELBv2 target
    group (DescribeTargetGroups); these defaults serve the service-discovery listeners of
    services without one."""

    interval: float = 10.0  # simulated seconds
    timeout: float = 5.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    matcher: str = "200-399"  # HTTP codes that pass: "200", "200-299", "200,202"

    def passes(self, status_code: int) -> bool:
        for part in self.matcher.split(","):
            low, _, high = part.strip().partition("-")
            if int(low) <= status_code <= int(high or low):
                return True
        return False


@dataclass
class Target:
    task_id: str
    host: str
    port: int
    az: str | None = None
    state: str = INITIAL
    passes: int = 0
    failures: int = 0
    reason: str = "registering"
    due: float = 0.0  # wall time of the next health check (0: check at once)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class TargetGroup:
    name: str
    health_path: str
    settings: HealthSettings = field(default_factory=HealthSettings)
    arn: str | None = None  # the ELBv2 target group, when the service has one
    targets: dict[str, Target] = field(default_factory=dict)  # by task id
    _rr: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sync(self, discovered: list[Target], draining: Collection[str] = ()) -> None:
        """Register new tasks, deregister gone ones (or ones whose port changed); a registered
        target whose task is in ``draining`` (DEACTIVATING) drains instead."""
        with self._lock:
            seen = {t.task_id: t for t in discovered}
            for task_id in list(self.targets):
                cur, new = self.targets[task_id], seen.get(task_id)
                if new is None and task_id in draining:
                    cur.state, cur.reason = DRAINING, DRAINING_REASON
                elif new is None or (new.host, new.port) != (cur.host, cur.port):
                    del self.targets[task_id]
            for task_id, t in seen.items():
                self.targets.setdefault(task_id, t)

    def healthy(self) -> list[Target]:
        with self._lock:
            return [t for t in self.targets.values() if t.state == HEALTHY]

    def pick(self, exclude: set[str] = frozenset()) -> Target | None:  # type: ignore[assignment]
        candidates = [t for t in self.healthy() if t.task_id not in exclude]
        if not candidates:
            return None
        return candidates[next(self._rr) % len(candidates)]

    def checked(self) -> list[Target]:
        """The targets health checks go to (not draining ones)."""
        with self._lock:
            return [t for t in self.targets.values() if t.state != DRAINING]

    def record_check(self, target: Target, ok: bool, reason: str) -> None:
        s = self.settings
        with self._lock:
            if target.state == DRAINING:
                return  # deregistering: its health no longer matters
            target.reason = reason
            if ok:
                target.passes, target.failures = target.passes + 1, 0
                if target.state == INITIAL or target.passes >= s.healthy_threshold:
                    target.state = HEALTHY
            else:
                target.failures, target.passes = target.failures + 1, 0
                if target.failures >= s.unhealthy_threshold:  # from initial too, as on AWS
                    target.state = UNHEALTHY

    def mark_down(self, target: Target, reason: str) -> None:
        with self._lock:
            if target.state == DRAINING:
                return
            target.state, target.passes, target.reason = UNHEALTHY, 0, reason

    def unavailable_reason(self) -> str:
        with self._lock:
            total = len(self.targets)
            states = sorted({f"{t.state}, last {t.reason}" for t in self.targets.values()})
        if not total:
            return f"no registered targets in target group {self.name} (no running tasks)"
        return (f"no healthy targets in target group {self.name} (0 of {total} healthy: "
                f"{'; '.join(states)[:200]})")

    def status(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"task_id": t.task_id, "port": t.port, "az": t.az, "state": t.state,
                     "reason": t.reason, "target_group_arn": self.arn}
                    for t in self.targets.values()]
