"""The task metadata endpoint version 4, as Fargate offers it to every container.

ECS injects ``ECS_CONTAINER_METADATA_URI_V4`` into each container; ``${URI}`` answers the
container's metadata and ``${URI}/task`` the task's (its ARN, cluster, family and revision,
statuses, limits, Availability Zone, launch type and containers):
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html
and https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
task-metadata-endpoint-v4-fargate-response.html. A container learns who it is there, never
from variables of the platform's own: locally the URI points at the control plane's
``/_sim/ecs/metadata/v4/<task id>``, which, like AWS's link-local address, no network fault
cuts off. ``/stats`` and ``/task/stats`` (Docker stats) are not emulated: they answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tradai_sim.cloud.control_api import route_url
from tradai_sim.cloud.ecs.models import TaskRecord

ENV = "ECS_CONTAINER_METADATA_URI_V4"
ROUTE = "/ecs/metadata/v4/*"  # a control route prefix (tradai_sim.cloud.control_api)


def uri(endpoint: str, task_id: str) -> str:
    return route_url(endpoint, ROUTE, task_id)


def task_document(record: TaskRecord) -> dict[str, Any]:
    """``${ECS_CONTAINER_METADATA_URI_V4}/task``."""
    doc: dict[str, Any] = {
        "Cluster": record.cluster, "TaskARN": record.task_arn, "Family": record.family,
        "Revision": str(record.revision) if record.revision is not None else None,
        "DesiredStatus": record.desired_status, "KnownStatus": record.last_status,
        "LaunchType": "FARGATE", "Containers": [container_document(record)],
    }
    if record.placement.az:
        doc["AvailabilityZone"] = record.placement.az
    limits = _limits(record)
    if limits:  # "omitted if no resource limits are defined"
        doc["Limits"] = limits
    if record.started_at is not None:
        doc["PullStartedAt"] = doc["PullStoppedAt"] = _iso(record.created_at)
    return doc


def container_document(record: TaskRecord) -> dict[str, Any]:
    """``${ECS_CONTAINER_METADATA_URI_V4}``: the task's one container."""
    doc: dict[str, Any] = {
        # Fargate's DockerId: the task ID, a dash, a number.
        "DockerId": f"{record.task_id}-0", "Name": record.container,
        "DockerName": record.container, "DesiredStatus": record.desired_status,
        "KnownStatus": record.last_status, "Type": "NORMAL",
        "Labels": {
            "com.amazonaws.ecs.cluster": record.cluster,
            "com.amazonaws.ecs.container-name": record.container,
            "com.amazonaws.ecs.task-arn": record.task_arn,
            "com.amazonaws.ecs.task-definition-family": record.family,
            "com.amazonaws.ecs.task-definition-version": str(record.revision or ""),
        },
    }
    if record.started_at is not None:
        doc["StartedAt"] = _iso(record.started_at)
    if record.exit_code is not None:
        doc["ExitCode"] = record.exit_code
    return doc


def route(find: Callable[[str], TaskRecord | None]) -> Callable[[dict[str, Any]], Any]:
    """The control route: ``<task id>`` or ``<task id>/task``."""

    def answer(body: dict[str, Any]) -> tuple[int, Any]:
        task_id, _, rest = str(body.get("subpath", "")).strip("/").partition("/")
        record = find(task_id)
        if record is None:
            return 404, {"error": f"no task {task_id!r} on this host"}
        if rest == "":
            return 200, container_document(record)
        if rest == "task":
            return 200, task_document(record)
        return 404, {"error": f"{rest!r} is not emulated (only the container and /task)"}

    return answer


def _limits(record: TaskRecord) -> dict[str, float]:
    limits: dict[str, float] = {}
    if record.cpu:
        limits["CPU"] = int(record.cpu) / 1024  # task-level CPU in vCPUs
    if record.memory:
        limits["Memory"] = int(record.memory)  # MiB
    return limits


def _iso(simulated: float) -> str:
    return datetime.fromtimestamp(simulated, tz=UTC).isoformat().replace("+00:00", "Z")
