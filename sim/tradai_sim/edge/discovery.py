"""Targets from ECS: the RUNNING tasks of each service and their host ports, read through the
ECS API (list_tasks + describe_tasks) as an ALB's target registration would see them."""

from __future__ import annotations

from typing import Any

from tradai_sim.edge.targets import Target

SERVICE_GROUP_PREFIX = "service:"


def running_targets(ecs: Any, cluster: str) -> dict[str, list[Target]]:
    """ECS service name -> its RUNNING tasks with a host port."""
    arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster,
                                                         desiredStatus="RUNNING"):
        arns.extend(page.get("taskArns", []))
    out: dict[str, list[Target]] = {}
    for i in range(0, len(arns), 100):  # describe_tasks takes 100 at most
        for task in ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]:
            group = task.get("group", "")
            host, port = _binding(task)
            if (task.get("lastStatus") != "RUNNING" or port is None
                    or not group.startswith(SERVICE_GROUP_PREFIX)):
                continue
            out.setdefault(group[len(SERVICE_GROUP_PREFIX):], []).append(Target(
                task_id=task["taskArn"].rsplit("/", 1)[-1], host=host, port=port,
                az=task.get("availabilityZone")))
    return out


def _binding(task: dict[str, Any]) -> tuple[str, int | None]:
    for container in task.get("containers", []):
        for binding in container.get("networkBindings") or []:
            if binding.get("hostPort"):
                ip = binding.get("bindIP") or "127.0.0.1"
                return ("127.0.0.1" if ip == "0.0.0.0" else ip), int(binding["hostPort"])
    return "127.0.0.1", None
