"""Target groups: each service's task endpoints, their health, round-robin over the healthy.

Health follows the ALB's rules: a new target is ``initial`` until its first check answers
(no traffic before), ``healthy_threshold`` consecutive passes make an unhealthy target healthy
again, ``unhealthy_threshold`` consecutive failures take a healthy one out. A refused
connection on live traffic takes the target out at once (it is certainly not serving).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

INITIAL, HEALTHY, UNHEALTHY = "initial", "healthy", "unhealthy"


@dataclass(frozen=True)
class HealthSettings:
    interval: float = 10.0  # simulated seconds (AWS default 30; shorter keeps drills brisk)
    timeout: float = 5.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2


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
    targets: dict[str, Target] = field(default_factory=dict)  # by task id
    _rr: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sync(self, discovered: list[Target]) -> None:
        """Register new tasks, deregister gone ones (or ones whose port changed)."""
        with self._lock:
            seen = {t.task_id: t for t in discovered}
            for task_id in list(self.targets):
                cur, new = self.targets[task_id], seen.get(task_id)
                if new is None or (new.host, new.port) != (cur.host, cur.port):
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

    def record_check(self, target: Target, ok: bool, reason: str) -> None:
        s = self.settings
        with self._lock:
            target.reason = reason
            if ok:
                target.passes, target.failures = target.passes + 1, 0
                if target.state == INITIAL or target.passes >= s.healthy_threshold:
                    target.state = HEALTHY
            else:
                target.failures, target.passes = target.failures + 1, 0
                if target.state == INITIAL or target.failures >= s.unhealthy_threshold:
                    target.state = UNHEALTHY

    def mark_down(self, target: Target, reason: str) -> None:
        with self._lock:
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
                     "reason": t.reason} for t in self.targets.values()]
