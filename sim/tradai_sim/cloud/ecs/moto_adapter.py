"""Wiring between moto's ECS backend and the ECS runtime: the patched task paths.

moto keeps the inventory (clusters, task definitions, tasks, services); the runtime owns what
a task really does. Everything here that touches moto internals is installed by
``tradai_sim.cloud.moto_patches`` or used by the service scheduler.
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from tradai_sim.cloud.ecs.models import (
    ACTIVATING,
    DEPROVISIONING,
    PENDING,
    PROVISIONING,
    RUNNING,
    STOPPED,
    USER_INITIATED,
    TaskRecord,
)
from tradai_sim.cloud.ecs.placement import NoCapacity
from tradai_sim.cloud.ecs.runtime import EcsRuntime, TaskRequest

log = logging.getLogger(__name__)

DEFAULT_DEREGISTRATION_DELAY = 300.0  # ELBv2 target group default, seconds

_runtime: EcsRuntime | None = None
# RunTask's ``failures`` of the current request (the backend and the response share a thread).
_failures = threading.local()


def install_runtime(runtime: EcsRuntime | None) -> None:
    global _runtime
    _runtime = runtime


def ecs_backend(account_id: str, region: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account_id][region]


def subnet_zone(account_id: str, region: str) -> Any:
    def zone_of(subnet_id: str) -> str:
        from moto.ec2.models import ec2_backends

        return str(ec2_backends[account_id][region].get_subnet(subnet_id).availability_zone)

    return zone_of


# -- patched moto paths -------------------------------------------------------------------------
def run_task(original: Any) -> Any:
    """Wraps ``EC2ContainerServiceBackend.run_task``: each task placed, then really started."""

    def run(self: Any, cluster_str: str, task_definition_str: str, count: int,
            overrides: dict[str, Any] | None, started_by: str, tags: Any, launch_type: str | None,
            networking_configuration: dict[str, Any] | None = None, group: str | None = None,
            platform_version: str | None = None,
            capacity_provider_strategy: list[dict[str, Any]] | None = None) -> list[Any]:
        runtime = _runtime
        args = (overrides, started_by, tags, launch_type)
        rest = (group, platform_version, capacity_provider_strategy)
        if runtime is None:
            return original(self, cluster_str, task_definition_str, count, *args,
                            networking_configuration, *rest)
        task_def = self.describe_task_definition(task_definition_str)
        task_group = group or f"family:{task_def.family}"
        subnets = list(((networking_configuration or {}).get("awsvpcConfiguration") or {})
                       .get("subnets") or [])
        tasks = []
        for _ in range(max(int(count or 1), 1)):
            with runtime.lock:
                try:
                    placement = runtime.place(subnets, task_group)
                except NoCapacity as exc:
                    _record_failure({"arn": task_def.arn, "reason": str(exc)})
                    continue
                # moto puts the task's network interface in the first subnet listed.
                net = _first_subnet(networking_configuration, placement.subnet)
                created = original(self, cluster_str, task_definition_str, 1, *args, net, *rest)
                for task in created:
                    task.network_configuration = networking_configuration
                    task.availability_zone = placement.az
                    _record_view(_provisioning_view(task))
                    runtime.launch(TaskRequest(
                        task_arn=task.task_arn, task_id=task.id, cluster=task.cluster_name,
                        family=task_def.family, group=task.group, started_by=task.started_by,
                        container=task_def.container_definitions[0],
                        overrides=task.overrides or {}, placement=placement, handle=task,
                        role_arn=(task.overrides or {}).get("taskRoleArn")
                        or getattr(task_def, "task_role_arn", None),
                        execution_role_arn=(task.overrides or {}).get("executionRoleArn")
                        or getattr(task_def, "execution_role_arn", None),
                        revision=getattr(task_def, "revision", None),
                        cpu=_units(getattr(task_def, "cpu", None)),
                        memory=_units(getattr(task_def, "memory", None))))
                tasks.extend(created)
        return tasks

    return run


def _provisioning_view(task: Any) -> Any:
    """The task as RunTask answers it on Fargate: PROVISIONING, desired RUNNING. A copy, since
    the task itself moves on (in another thread) before the response is written."""
    view = copy.copy(task)
    view.containers = [copy.copy(c) for c in task.containers]
    view.last_status, view.desired_status = PROVISIONING, RUNNING
    for container in view.containers:
        container.last_status, container.exitCode = PENDING, None
    return view


def _record_view(view: Any) -> None:
    if getattr(_failures, "views", None) is not None:  # only inside a RunTask request
        _failures.views.append(view)


def _record_failure(failure: dict[str, str]) -> None:
    if getattr(_failures, "items", None) is None:
        _failures.items = []
    _failures.items.append(failure)


def run_task_response(original: Any) -> Any:
    """Wraps the RunTask response: tasks that could not be placed come back as ``failures``
    (moto always answers an empty list)."""

    def run(self: Any) -> Any:
        _failures.items, _failures.views = [], []
        try:
            result = original(self)
            if _failures.items:
                result.result["failures"] = list(_failures.items)
            if _failures.views:  # the tasks as they were when RunTask created them
                result.result["tasks"] = list(_failures.views)
            return result
        finally:
            _failures.views = None

    return run


def create_service_response(original: Any) -> Any:
    """Wraps the CreateService response: moto drops ``healthCheckGracePeriodSeconds``; the
    service keeps it (DescribeServices returns it, the scheduler honours it). UpdateService
    already sets any given attribute on moto's service.

    moto also drops ``capacityProviderStrategy`` and records launchType EC2 instead, so the
    scheduler's RunTask found no container instance. As on AWS
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html): a
    strategy and a launch type together are refused; a service created with a strategy keeps
    it, has no launchType, and its tasks carry the provider's ``capacityProviderName``."""

    def create(self: Any) -> Any:
        strategy = self._get_param("capacityProviderStrategy")
        if strategy and self._get_param("launchType"):
            from moto.ecs.exceptions import InvalidParameterException

            raise InvalidParameterException(
                "Specify either a launch type or a capacity provider strategy, but not both.")
        result = original(self)
        service = result.result["service"]
        grace = self._get_int_param("healthCheckGracePeriodSeconds")
        if grace is not None:
            service.health_check_grace_period_seconds = grace
        if strategy:
            service.capacity_provider_strategy = strategy
            service.launch_type = None
            for deployment in service.deployments:
                deployment["launchType"] = None
                deployment["capacityProviderStrategy"] = strategy
        return result

    return create


def _first_subnet(net: dict[str, Any] | None, subnet: str | None) -> dict[str, Any] | None:
    if not net or subnet is None:
        return net
    net = copy.deepcopy(net)
    subnets = net["awsvpcConfiguration"]["subnets"]
    net["awsvpcConfiguration"]["subnets"] = [subnet] + [s for s in subnets if s != subnet]
    return net


def stop_task(original: Any) -> Any:
    """Wraps ``EC2ContainerServiceBackend.stop_task``: the process is stopped for real; the
    task reaches STOPPED when it has exited (SIGTERM, then SIGKILL after stopTimeout)."""

    def stop(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        record = _runtime.find(task_str) if _runtime is not None else None
        if record is None or record.last_status == STOPPED:
            return original(self, cluster_str, task_str, reason)
        assert _runtime is not None
        _runtime.stop(record.task_id, reason or "Task stopped by user", USER_INITIATED)
        return record.handle

    return stop


def task_advance(self: Any) -> None:
    """Replaces ``Task.advance``: moto moves a task one state per describe_tasks; here the
    task's state is the process's, published by the runtime."""


def publish(record: TaskRecord) -> None:
    """Copy the runtime's view of a task into moto's task, so the API shows the process."""
    task = record.handle
    if task is None:
        return
    task.last_status = record.last_status
    task.desired_status = record.desired_status
    task.availability_zone = record.placement.az
    task.created_at = _ts(record.created_at)
    task.started_at = _ts(record.started_at)
    task.stopping_at = _ts(record.stopping_at)
    task.stopped_at = task.execution_stopped_at = _ts(record.stopped_at)
    task.stop_code = record.stop_code
    task.stopped_reason = record.stopped_reason or ""
    for container in task.containers:
        container.last_status = _container_status(record.last_status)
        container.exitCode = record.exit_code
        container.runtime_id = str(record.pid) if record.pid else None
        if record.last_status == STOPPED and record.exit_code is None:
            container.reason = record.stopped_reason
        if record.port:
            container.network_bindings = [{"bindIP": "127.0.0.1", "containerPort": record.port,
                                           "hostPort": record.port, "protocol": "tcp"}]


def _container_status(task_status: str) -> str:
    if task_status in (PROVISIONING, PENDING, ACTIVATING):
        return PENDING
    return STOPPED if task_status in (DEPROVISIONING, STOPPED) else RUNNING


def deregistration_delay(account_id: str, region: str) -> Any:
    """Simulated seconds a stopping service task's targets drain: the largest
    ``deregistration_delay.timeout_seconds`` of the service's target groups (ELBv2's default
    300 for a target group the emulator does not know); 0 without a load balancer."""

    def delay(record: TaskRecord) -> float:
        if not record.group.startswith("service:"):
            return 0.0
        name = record.group.split(":", 1)[1]
        svc = ecs_backend(account_id, region).services.get(f"{record.cluster}:{name}")
        arns = [lb.get("targetGroupArn") for lb in (svc.load_balancers or [])
                if lb.get("targetGroupArn")] if svc is not None else []
        if not arns:
            return 0.0
        from moto.elbv2.models import elbv2_backends

        groups = elbv2_backends[account_id][region].target_groups
        return max(float(groups[a].attributes.get("deregistration_delay.timeout_seconds", 300))
                   if a in groups else DEFAULT_DEREGISTRATION_DELAY for a in arns)

    return delay


def _ts(sim_seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(sim_seconds, tz=UTC) if sim_seconds is not None else None


# -- services, for the scheduler ------------------------------------------------------------
@dataclass(frozen=True)
class ServiceView:
    key: str
    name: str
    cluster: str
    desired: int
    active: bool
    task_definition: str | None
    subnets: tuple[str, ...]
    target_groups: tuple[str, ...] = ()  # loadBalancers' target group ARNs
    grace_period: float = 0.0  # healthCheckGracePeriodSeconds (AWS's default 0)

    @property
    def group(self) -> str:
        return f"service:{self.name}"


class MotoServices:
    """The scheduler's view of moto's ECS services, and what it changes in them."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _backend(self) -> Any:
        return ecs_backend(self.account_id, self.region)

    def services(self) -> list[ServiceView]:
        out = []
        for key, svc in list(self._backend().services.items()):
            net = (svc.network_configuration or {}).get("awsvpcConfiguration") or {}
            out.append(ServiceView(
                key=key, name=svc.name, cluster=svc.cluster_name,
                desired=int(svc.desired_count or 0), active=svc.status == "ACTIVE",
                task_definition=svc.task_definition, subnets=tuple(net.get("subnets") or ()),
                target_groups=tuple(lb["targetGroupArn"] for lb in svc.load_balancers or []
                                    if lb.get("targetGroupArn")),
                grace_period=float(getattr(svc, "health_check_grace_period_seconds", None)
                                   or 0)))
        return out

    def run_task(self, view: ServiceView) -> list[Any]:
        svc = self._backend().services[view.key]
        deployment = svc.deployments[0]["id"] if svc.deployments else "ecs-svc/local"
        strategy = getattr(svc, "capacity_provider_strategy", None) or None
        return self._backend().run_task(
            svc.cluster_name, svc.task_definition, 1, None, deployment, None,
            None if strategy else svc.launch_type, svc.network_configuration or None,
            view.group, svc.platform_version, strategy)

    def set_counts(self, view: ServiceView, running: int, pending: int) -> None:
        svc = self._backend().services.get(view.key)
        if svc is None:
            return
        svc.running_count, svc.pending_count = running, pending
        for d in svc.deployments[:1]:
            d["runningCount"], d["pendingCount"] = running, pending
            d["desiredCount"] = svc.desired_count
            d["rolloutState"] = "COMPLETED" if running >= svc.desired_count else "IN_PROGRESS"

    def add_event(self, view: ServiceView, message: str) -> None:
        svc = self._backend().services.get(view.key)
        if svc is not None:  # newest first, as ECS lists them
            svc.events.insert(0, {"id": str(uuid4()), "createdAt": datetime.now(UTC),
                                  "message": f"(service {view.name}) {message}"})
            del svc.events[100:]


def _units(value: Any) -> str | None:
    """A task definition's cpu / memory as ECS reports them: a string of units, or None."""
    return str(value) if value not in (None, "") else None
