"""The ECS runtime: launches task processes, watches them exit, stops them like ECS does.

Every state change is published to ``sink`` (the emulator adapter copies it into moto's task,
so ``describe_tasks`` shows the real process) and to the listeners (the service scheduler).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.ecs import process
from tradai_sim.cloud.ecs.models import (
    ESSENTIAL_CONTAINER_EXITED,
    ESSENTIAL_EXIT_REASON,
    RUNNING,
    STOPPED,
    STOPPING,
    TASK_FAILED_TO_START,
    TERMINATION_NOTICE,
    USER_INITIATED,
    Placement,
    TaskRecord,
)
from tradai_sim.cloud.ecs.placement import Placer

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 30  # seconds; ECS's default stopTimeout on Fargate
KEEP_STOPPED = 200  # stopped tasks kept for status and describe, as ECS keeps them a while

Listener = Callable[[TaskRecord], None]


@dataclass(frozen=True)
class TaskRequest:
    """One task to launch, as the emulator describes it."""

    task_arn: str
    task_id: str
    cluster: str
    family: str
    group: str
    started_by: str
    container: Mapping[str, Any]  # the task definition's (first) container definition
    overrides: Mapping[str, Any]
    placement: Placement
    handle: Any = None
    role_arn: str | None = None  # the task role: its credentials go into the environment


class EcsRuntime:
    def __init__(self, ctx: CloudContext, zone_of: Callable[[str], str],
                 sink: Listener | None = None) -> None:
        self.ctx = ctx
        self.placer = Placer(zone_of)
        self.sink = sink or (lambda record: None)
        self.listeners: list[Listener] = []
        self.tasks: dict[str, TaskRecord] = {}  # by task id
        # Placement and launch happen under one lock so concurrent RunTasks spread correctly.
        self.lock = threading.RLock()

    # -- launching ----------------------------------------------------------------------------
    def place(self, subnets: list[str], group: str) -> Placement:
        """Raises ``NoCapacity`` when every subnet is in an unavailable AZ."""
        with self.lock:
            zones = (r.placement.az for r in self.tasks.values() if r.group == group and r.live)
            return self.placer.place(subnets, zones, self.unavailable_azs())

    def unavailable_azs(self) -> set[str]:
        zones = self.ctx.resources.get("_zones")
        return zones.unavailable_azs() if zones is not None else set()

    def launch(self, req: TaskRequest) -> TaskRecord:
        definition = req.container
        grace = float(definition.get("stopTimeout") or DEFAULT_STOP_TIMEOUT)
        record = TaskRecord(
            task_arn=req.task_arn, task_id=req.task_id, cluster=req.cluster, family=req.family,
            group=req.group, started_by=req.started_by, container=str(definition.get("name")),
            placement=req.placement, stop_grace_wall=self.ctx.clock.to_wall(grace),
            log_path=self.ctx.log_dir / f"task-{req.task_id[:12]}.log",
            created_at=self.ctx.clock.now(), handle=req.handle,
        )
        with self.lock:
            self.tasks[record.task_id] = record
            self._forget_old_stopped()
        try:
            launch = self._container_launch(record, definition, req.overrides, req.role_arn)
            record.proc = process.start(launch)
            self.ctx.register_child(record.proc.pid)
        except Exception as exc:  # a bad command is the task's failure, not RunTask's
            log.warning("task %s failed to start: %s", record.short_id, exc)
            self._stopped(record, None, TASK_FAILED_TO_START,
                          f"CannotStartContainerError: {exc}")
            return record
        record.pid = record.proc.pid
        record.last_status = RUNNING
        record.started_at = self.ctx.clock.now()
        log.info("task %s (%s) pid %s in %s", record.short_id, record.group, record.pid,
                 record.placement.az)
        self._publish(record)
        threading.Thread(target=self._watch, args=(record,), name=f"ecs-{record.short_id}",
                         daemon=True).start()
        return record

    def _container_launch(self, record: TaskRecord, definition: Mapping[str, Any],
                          overrides: Mapping[str, Any],
                          role_arn: str | None) -> process.ContainerLaunch:
        env = self.ctx.child_env(process.container_environment(definition, overrides))
        env.update(self.ctx.role_env(role_arn, record.family))
        # What the task can learn about itself (ECS offers this through its metadata endpoint).
        env.update({"TRADAI_TASK_ARN": record.task_arn, "TRADAI_CLUSTER": record.cluster,
                    "TRADAI_TASK_GROUP": record.group})
        if record.placement.az:
            env["TRADAI_AZ"] = record.placement.az
        if record.placement.subnet:
            env["TRADAI_SUBNET_ID"] = record.placement.subnet
        network = self.ctx.resources.get("_network")
        if network is not None and record.placement.subnet:
            env = network.localize(env, record.placement.subnet)  # its subnet's view
        if definition.get("portMappings"):
            # Tasks share one host: each listens on its own port; the ALB stand-in and other
            # clients reach it through its network interface on the VPC router, which the
            # network can cut off.
            port = process.free_port()
            env["PORT"] = str(port)
            record.port = (network.register_eni(record.task_id, record.placement.subnet, port)
                           if network is not None else port)
        return process.ContainerLaunch(
            argv=process.container_command(definition, overrides), env=env,
            cwd=self.ctx.state_dir / "tasks" / record.short_id, log_path=record.log_path)

    # -- exits and stops ------------------------------------------------------------------------
    def _watch(self, record: TaskRecord) -> None:
        assert record.proc is not None
        returncode = record.proc.wait()
        # Whatever the main process left behind dies with it, as in a container.
        process.signal_group(record.proc.pid, signal.SIGKILL)
        if record.stop_code is None:
            record.stop_code = ESSENTIAL_CONTAINER_EXITED
            record.stopped_reason = ESSENTIAL_EXIT_REASON
        self._stopped(record, process.exit_code(returncode), record.stop_code,
                      record.stopped_reason or ESSENTIAL_EXIT_REASON)

    def _stopped(self, record: TaskRecord, exit_code: int | None, stop_code: str,
                 reason: str) -> None:
        # Under the lock, so the service scheduler never sees the task gone before its
        # listeners (the restart hold-off) have heard of it.
        with self.lock:
            record.exit_code = exit_code
            record.stop_code = stop_code
            record.stopped_reason = reason
            record.last_status = STOPPED
            record.desired_status = STOPPED
            record.stopped_at = self.ctx.clock.now()
            record.exited.set()
            log.info("task %s stopped: exit %s, %s", record.short_id, exit_code, stop_code)
            self._publish(record)
        network = self.ctx.resources.get("_network")
        if network is not None and record.port is not None:
            network.release_eni(record.task_id)

    def stop(self, task_id: str, reason: str, stop_code: str) -> TaskRecord | None:
        """StopTask: SIGTERM to the process group, SIGKILL after the stop timeout."""
        record = self.find(task_id)
        if record is None or record.last_status == STOPPED:
            return record
        if record.desired_status == STOPPED:
            return record  # already stopping
        record.desired_status = STOPPED
        record.last_status = STOPPING
        record.stop_code = stop_code
        record.stopped_reason = reason
        record.stopping_at = self.ctx.clock.now()
        self._publish(record)
        if record.pid is not None:
            process.signal_group(record.pid, signal.SIGTERM)
            threading.Thread(target=self._kill_after_grace, args=(record,), daemon=True,
                             name=f"ecs-stop-{record.short_id}").start()
        return record

    def _kill_after_grace(self, record: TaskRecord) -> None:
        if not record.exited.wait(record.stop_grace_wall) and record.pid is not None:
            process.signal_group(record.pid, signal.SIGKILL)

    def power_off(self, az: str, reason: str) -> list[TaskRecord]:
        """The AZ's hosts lost power: its tasks die at once (no SIGTERM, no grace)."""
        doomed = [r for r in list(self.tasks.values())
                  if r.placement.az == az and r.last_status != STOPPED]
        for r in doomed:
            r.desired_status = STOPPED
            r.stop_code, r.stopped_reason = TERMINATION_NOTICE, reason
            if r.pid is not None:
                process.signal_group(r.pid, signal.SIGKILL)
        return doomed

    def stop_all(self, timeout: float = 10.0) -> None:
        """Stop every task process; nothing of the stack may outlive the cloud process."""
        live = [r for r in list(self.tasks.values()) if r.last_status != STOPPED]
        for r in live:
            r.stop_code, r.stopped_reason = USER_INITIATED, "The local cloud is shutting down"
            if r.pid is not None:
                process.signal_group(r.pid, signal.SIGTERM)
        for r in live:
            if not r.exited.wait(min(r.stop_grace_wall, timeout)) and r.pid is not None:
                process.signal_group(r.pid, signal.SIGKILL)
                r.exited.wait(2.0)

    # -- queries --------------------------------------------------------------------------------
    def find(self, task: str) -> TaskRecord | None:
        """By task id or ARN."""
        return self.tasks.get(task.rsplit("/", 1)[-1])

    def in_group(self, group: str) -> list[TaskRecord]:
        return [r for r in list(self.tasks.values()) if r.group == group]

    def snapshot(self) -> list[dict[str, Any]]:
        return [r.status() for r in sorted(list(self.tasks.values()), key=lambda r: r.created_at)]

    def _publish(self, record: TaskRecord) -> None:
        for fn in [self.sink, *self.listeners]:
            try:
                fn(record)
            except Exception:
                log.exception("task listener failed for %s", record.short_id)

    def _forget_old_stopped(self) -> None:
        stopped = [r for r in self.tasks.values() if r.last_status == STOPPED]
        for r in sorted(stopped, key=lambda r: r.stopped_at or 0)[:-KEEP_STOPPED or None]:
            del self.tasks[r.task_id]


