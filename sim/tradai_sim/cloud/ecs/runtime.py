"""The ECS runtime: launches task processes, watches them exit, stops them like ECS does.

Every state change is published to ``sink`` (the emulator adapter copies it into moto's task,
so ``describe_tasks`` shows the real process) and to the listeners (the service scheduler).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tradai.topology.ecs_secrets import parse_value_from
from tradai_sim import ports
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.ecs import credentials, faketime, metadata, process, stops
from tradai_sim.cloud.ecs.models import (
    ACTIVATING,
    DEACTIVATING,
    DEPROVISIONING,
    ESSENTIAL_CONTAINER_EXITED,
    ESSENTIAL_EXIT_REASON,
    PENDING,
    PROVISIONING,
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
_ORDER = {s: i for i, s in enumerate((PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING,
                                      STOPPING, DEPROVISIONING, STOPPED))}


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
    role_arn: str | None = None  # the task role: its containers' credentials endpoint serves it
    # The execution role: ECS reads the container's ``secrets`` with it, before the start.
    execution_role_arn: str | None = None
    revision: int | None = None  # the task definition's, and its task-level cpu / memory
    cpu: str | None = None
    memory: str | None = None


class EcsRuntime:
    def __init__(self, ctx: CloudContext, zone_of: Callable[[str], str],
                 sink: Listener | None = None,
                 deregistration_delay: Callable[[TaskRecord], float] | None = None) -> None:
        self.ctx = ctx
        # Simulated seconds a stopping task's load balancer targets drain before SIGTERM.
        self.deregistration_delay = deregistration_delay or (lambda record: 0.0)
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
        """RunTask's part: the task exists as PROVISIONING; it starts in the background, as on
        Fargate, and is RUNNING only once its container process is up."""
        definition = req.container
        # stopTimeout bounds real work (the container shutting down): wall seconds.
        grace = float(definition.get("stopTimeout") or DEFAULT_STOP_TIMEOUT)
        record = TaskRecord(
            task_arn=req.task_arn, task_id=req.task_id, cluster=req.cluster, family=req.family,
            group=req.group, started_by=req.started_by, container=str(definition.get("name")),
            placement=req.placement, stop_grace_wall=grace,
            log_path=self.ctx.log_dir / f"task-{req.task_id[:12]}.log",
            created_at=self.ctx.clock.now(), handle=req.handle, revision=req.revision,
            cpu=req.cpu, memory=req.memory, role_arn=req.role_arn,
            credentials_token=credentials.new_token() if req.role_arn else None,
        )
        with self.lock:
            self.tasks[record.task_id] = record
            self._forget_old_stopped()
            self._to(record, PROVISIONING)
        threading.Thread(target=self._start, args=(record, req), name=f"ecs-{record.short_id}",
                         daemon=True).start()
        return record

    def _start(self, record: TaskRecord, req: TaskRequest) -> None:
        """PROVISIONING -> PENDING -> ACTIVATING -> RUNNING, then watch the process."""
        try:
            launch = self._container_launch(record, req.container, req.overrides,
                                            req.execution_role_arn)
        except Exception as exc:  # a bad definition is the task's failure, not RunTask's
            log.warning("task %s failed to start: %s", record.short_id, exc)
            self._stopped(record, None, TASK_FAILED_TO_START, f"CannotStartContainerError: {exc}")
            return
        with self.lock:
            if record.desired_status == STOPPED:  # stopped (or powered off) before it started
                cancelled = True
            else:
                cancelled = False
                self._to(record, PENDING)
        if cancelled:
            self._stopped(record, None, record.stop_code or USER_INITIATED,
                          record.stopped_reason or "Task stopped before it started")
            return
        try:
            proc = process.start(launch)
            self.ctx.register_child(proc.pid)
        except Exception as exc:  # never reached RUNNING: counts for the throttle logic
            log.warning("task %s failed to start: %s", record.short_id, exc)
            self._stopped(record, None, TASK_FAILED_TO_START, f"CannotStartContainerError: {exc}")
            return
        with self.lock:
            record.proc, record.pid = proc, proc.pid
            self._to(record, ACTIVATING)
            record.started_at = self.ctx.clock.now()
            self._to(record, RUNNING)
            stop_now = record.desired_status == STOPPED  # stopped while it was starting
        log.info("task %s (%s) pid %s in %s", record.short_id, record.group, record.pid,
                 record.placement.az)
        if stop_now and record.stop_code == TERMINATION_NOTICE:
            process.signal_group(proc.pid, signal.SIGKILL)  # its AZ lost power meanwhile
        elif stop_now:
            self._begin_stop(record)
        self._watch(record)

    def _container_launch(self, record: TaskRecord, definition: Mapping[str, Any],
                          overrides: Mapping[str, Any],
                          execution_role_arn: str | None = None) -> process.ContainerLaunch:
        # The host's shell stays out and no keys come in, as on AWS: the task role's are
        # served by the credentials endpoint (set below, with the metadata endpoint), and a
        # task without one has none.
        env = self.ctx.child_env(image=True)
        env.update(process.container_environment(definition, overrides))
        env.update(self._injected_secrets(record, definition, execution_role_arn))
        network = self.ctx.resources.get("_network")
        if network is not None and record.placement.subnet:
            env = network.localize(env, record.placement.subnet)  # its subnet's view
        # What the task can learn about itself: ECS's metadata endpoint, as on Fargate. Set
        # after the subnet's view: like AWS's link-local address, no route or fault cuts it.
        env[metadata.ENV] = metadata.uri(self.ctx.endpoint, record.task_id)
        env.update(credentials.environment(self.ctx.endpoint, record))
        if definition.get("portMappings"):
            # Tasks share one host: each listens on its own port; the ALB stand-in and other
            # clients reach it through its network interface on the VPC router, which the
            # network can cut off.
            port = ports.free_port()
            env["PORT"] = str(port)
            record.port = (network.register_eni(record.task_id, record.placement.subnet, port)
                           if network is not None else port)
        argv = process.container_command(definition, overrides)
        if self._reads_wall_clock(argv):
            env.update(faketime.environment(self.ctx.clock, env))
        return process.ContainerLaunch(
            argv=argv, env=env,
            cwd=self.ctx.state_dir / "tasks" / record.short_id, log_path=record.log_path)

    def _injected_secrets(self, record: TaskRecord, definition: Mapping[str, Any],
                          execution_role_arn: str | None) -> dict[str, str]:
        """The container definition's ``secrets``, as ECS hands them in: read from Secrets
        Manager with the task's execution role (so its policy, not the task role's, decides),
        a JSON key's value when ``valueFrom`` names one
        (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
        secrets-envvar-secrets-manager.html). A secret it cannot read stops the start, as
        ECS's ResourceInitializationError does."""
        refs = definition.get("secrets") or []
        if not refs:
            return {}
        if not execution_role_arn:
            raise RuntimeError("ResourceInitializationError: the container has secrets but "
                               "the task definition no execution role")
        creds = self.ctx.role_env(execution_role_arn, f"ecs-{record.short_id}")
        client = boto3.client(
            "secretsmanager", endpoint_url=self.ctx.endpoint, region_name=self.ctx.region,
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=creds["AWS_SESSION_TOKEN"])
        out: dict[str, str] = {}
        for ref in refs:
            arn, key, stage, version = parse_value_from(ref["valueFrom"])
            kwargs = {"SecretId": arn, **({"VersionStage": stage} if stage else {}),
                      **({"VersionId": version} if version else {})}
            try:
                value = client.get_secret_value(**kwargs)["SecretString"]
            except ClientError as exc:
                raise RuntimeError(f"ResourceInitializationError: unable to pull secrets: "
                                   f"{exc}") from exc
            out[ref["name"]] = str(json.loads(value)[key]) if key else value
        return out

    def _reads_wall_clock(self, argv: list[str]) -> bool:
        """The container runs an entrypoint the spec marks ``reads_wall_clock`` (the strategy
        image, and session task definitions copied from it)."""
        modules = {td.entrypoint for td in self.ctx.topology.task_definitions
                   if td.reads_wall_clock}
        return any(argv[i] == "-m" and argv[i + 1] in modules for i in range(len(argv) - 1))

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
        """The container is gone: the remaining states pass at once (nothing is left to drain
        or signal), DEPROVISIONING releases the network interface, then STOPPED. A task that
        never reached RUNNING goes from PENDING straight to STOPPED, as AWS documents."""
        with self.lock:
            record.exit_code = exit_code
            record.stop_code = stop_code
            record.stopped_reason = reason
            record.desired_status = STOPPED
            record.exited.set()
            if record.reached_running:
                for state in (DEACTIVATING, STOPPING):
                    if _ORDER[record.last_status] < _ORDER[state]:
                        self._to(record, state)
                if record.stopping_at is None:
                    record.stopping_at = self.ctx.clock.now()
                self._to(record, DEPROVISIONING)
        network = self.ctx.resources.get("_network")
        if network is not None and record.port is not None:
            network.release_eni(record.task_id)
        # Under the lock, so the service scheduler sees the task's end with its listeners.
        with self.lock:
            record.stopped_at = self.ctx.clock.now()
            self._to(record, STOPPED)
            log.info("task %s stopped: exit %s, %s", record.short_id, exit_code, stop_code)

    def stop(self, task_id: str, reason: str, stop_code: str) -> TaskRecord | None:
        """StopTask: DEACTIVATING (the load balancer target drains for its target group's
        deregistration delay), then STOPPING: SIGTERM, SIGKILL after the stop timeout."""
        with self.lock:
            record = self.find(task_id)
            if record is None or record.last_status == STOPPED:
                return record
            if record.desired_status == STOPPED:
                return record  # already stopping
            record.desired_status = STOPPED
            record.stop_code = stop_code
            record.stopped_reason = reason
            started = record.pid is not None
            self._publish(record)
        if started:  # otherwise the starting thread sees desiredStatus STOPPED
            self._begin_stop(record)
        return record

    def _begin_stop(self, record: TaskRecord) -> None:
        with self.lock:
            if record.exited.is_set():
                return
            self._to(record, DEACTIVATING)
        threading.Thread(target=self._drain_then_terminate, args=(record,), daemon=True,
                         name=f"ecs-stop-{record.short_id}").start()

    def _drain_then_terminate(self, record: TaskRecord) -> None:
        # Deregistration delay: pure waiting, simulated time; the process keeps serving the
        # requests it already has. ECS sends SIGTERM only once the target has drained.
        delay = self._drain_seconds(record)
        if delay > 0 and record.exited.wait(self.ctx.clock.to_wall(delay)):
            return
        with self.lock:
            if record.exited.is_set():
                return
            record.stopping_at = self.ctx.clock.now()
            self._to(record, STOPPING)
        if record.pid is None:
            return
        process.signal_group(record.pid, signal.SIGTERM)
        # stopTimeout bounds the container's shutdown work: wall seconds.
        if not record.exited.wait(record.stop_grace_wall):
            process.signal_group(record.pid, signal.SIGKILL)

    def _drain_seconds(self, record: TaskRecord) -> float:
        try:
            return float(self.deregistration_delay(record))
        except Exception:
            log.exception("deregistration delay of %s", record.short_id)
            return 0.0

    def power_off(self, az: str, reason: str) -> list[TaskRecord]:
        """The AZ's hosts lost power: its tasks die at once (no SIGTERM, no grace)."""
        with self.lock:
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

    def _to(self, record: TaskRecord, state: str) -> None:
        """Enter a lifecycle state (callers hold the lock) and tell the listeners."""
        record.last_status = state
        record.history.append((state, self.ctx.clock.now()))
        self._publish(record)
        if state == STOPPED:
            stops.announce()  # after the sink: DescribeTasks shows it to whoever wakes

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


