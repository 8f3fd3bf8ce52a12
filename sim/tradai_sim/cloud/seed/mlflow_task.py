"""Finding the MLflow service's task and whether it answers (before the edge routes to it)."""

from __future__ import annotations

from typing import Any

import requests

from tradai_sim.cloud.context import CloudContext

ECS_TASKS_ROUTE = "/ecs/tasks"


def task_urls(ctx: CloudContext, service: str = "mlflow") -> list[str]:
    """URLs of the service's running tasks, straight from the ECS runtime."""
    route = ctx.control_routes.get(ECS_TASKS_ROUTE)
    if route is None:
        return []
    group = f"service:{ctx.name(service)}"
    _, body = route({})
    tasks: list[dict[str, Any]] = body.get("tasks", [])
    return [f"http://127.0.0.1:{t['port']}" for t in tasks
            if t.get("group") == group and t.get("last_status") == "RUNNING" and t.get("port")]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False
