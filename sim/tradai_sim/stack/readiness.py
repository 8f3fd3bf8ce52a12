"""Is the platform usable yet: each service running (and healthy behind the ALB where it is
load-balanced) and the example strategies registered. ``up`` waits for it, ``status`` shows
what is still starting, drills require it before they measure anything.

Read from the cloud's status document only (ECS tasks, the ALB's targets, the seed part).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

SERVICES = ("backend-api", "data-collection", "strategy-service", "mlflow")
LOAD_BALANCED = ("backend-api", "mlflow")
EXAMPLES = "example strategies"


@dataclass(frozen=True)
class Component:
    name: str
    ready: bool
    detail: str


def components(status: dict[str, Any], minimum: int = 1) -> list[Component]:
    """Each service and the examples' registration, in the order a user depends on them."""
    parts = status.get("parts", {})
    tasks = [t for t in parts.get("ecs", {}).get("tasks", [])
             if t["last_status"] == "RUNNING" and t["desired_status"] == "RUNNING"]
    running: Counter[str] = Counter()
    for t in tasks:
        group = str(t["group"])
        for service in SERVICES:
            if group.startswith("service:") and group.endswith(f"-{service}"):
                running[service] += 1
    live_ids = {t["task_arn"].rsplit("/", 1)[-1] for t in tasks}
    targets = parts.get("edge", {}).get("targets") or {}
    out = []
    for service in SERVICES:
        n = running[service]
        if n < minimum:
            out.append(Component(service, False, f"{n} of {minimum} tasks running"))
            continue
        if service in LOAD_BALANCED:
            # a target counts only while its task still runs (the ALB notices a death late)
            healthy = sum(1 for t in targets.get(service, [])
                          if t["state"] == "healthy" and t["task_id"] in live_ids)
            if healthy < minimum:
                out.append(Component(service, False, f"{n} running, {healthy} healthy "
                                     "behind the ALB"))
                continue
        out.append(Component(service, True, f"{n} running"))
    seed = parts.get("seed", {})
    state = seed.get("state", "unknown")
    if state == "done":
        out.append(Component(EXAMPLES, True, f"{len(seed.get('registered') or [])} registered"))
    else:
        out.append(Component(EXAMPLES, False, f"{state}: {seed['error']}" if seed.get("error")
                             else str(state)))
    return out


def failed(status: dict[str, Any]) -> str | None:
    """Why the stack will not become ready without help (the seed gave up), else None."""
    seed = status.get("parts", {}).get("seed", {})
    if seed.get("state") == "failed":
        return f"registering the example strategies failed: {seed.get('error')}"
    return None
