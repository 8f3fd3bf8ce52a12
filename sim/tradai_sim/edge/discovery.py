"""Targets from ECS: the RUNNING tasks of each service and their host ports, read through the
ECS API (list_tasks + describe_tasks) as an ALB's target registration would see them; the
tasks being deregistered (DEACTIVATING); each load-balanced service's target groups and their
health check settings (DescribeServices, DescribeTargetGroups)."""

from __future__ import annotations

from typing import Any

from tradai_sim.edge.targets import HealthSettings, Target

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


def deactivating(ecs: Any, cluster: str, task_ids: list[str]) -> set[str]:
    """Of these tasks, the ones ECS is deregistering from their load balancer (DEACTIVATING:
    desired STOPPED, so out of the RUNNING list, still serving their in-flight requests)."""
    out: set[str] = set()
    for i in range(0, len(task_ids), 100):
        for task in ecs.describe_tasks(cluster=cluster, tasks=task_ids[i:i + 100])["tasks"]:
            if task.get("lastStatus") == "DEACTIVATING":
                out.add(task["taskArn"].rsplit("/", 1)[-1])
    return out


def load_balanced_services(ecs: Any, cluster: str) -> dict[str, list[str]]:
    """ECS service name -> the ARNs of its target groups (CreateService's loadBalancers)."""
    names: list[str] = []
    for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
        names.extend(arn.rsplit("/", 1)[-1] for arn in page.get("serviceArns", []))
    out: dict[str, list[str]] = {}
    for i in range(0, len(names), 10):  # describe_services takes 10 at most
        for svc in ecs.describe_services(cluster=cluster, services=names[i:i + 10])["services"]:
            arns = [lb["targetGroupArn"] for lb in svc.get("loadBalancers") or []
                    if lb.get("targetGroupArn")]
            if arns and svc.get("status") == "ACTIVE":
                out[svc["serviceName"]] = arns
    return out


def target_group_health(elbv2: Any, arns: list[str]) -> dict[str, tuple[str, str, HealthSettings]]:
    """Target group ARN -> (name, health check path, health check settings), as
    DescribeTargetGroups gives them; unknown ARNs are left out."""
    out: dict[str, tuple[str, str, HealthSettings]] = {}
    for arn in arns:
        try:
            [g] = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        except Exception:  # deleted meanwhile: nothing to check
            continue
        out[arn] = (g["TargetGroupName"], g.get("HealthCheckPath") or "/", HealthSettings(
            interval=float(g.get("HealthCheckIntervalSeconds") or 30),
            timeout=float(g.get("HealthCheckTimeoutSeconds") or 5),
            healthy_threshold=int(g.get("HealthyThresholdCount") or 5),
            unhealthy_threshold=int(g.get("UnhealthyThresholdCount") or 2),
            matcher=(g.get("Matcher") or {}).get("HttpCode") or "200"))
    return out
