"""What the ECS runtime knows about each task: its process, placement and lifecycle."""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# lastStatus values a Fargate task passes through, in order (AWS "Amazon ECS task lifecycle",
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html).
PROVISIONING = "PROVISIONING"  # its network interface is set up
PENDING = "PENDING"  # its container is being started
ACTIVATING = "ACTIVATING"  # load balancer / service discovery registration
RUNNING = "RUNNING"
DEACTIVATING = "DEACTIVATING"  # load balancer deregistration: the target drains
STOPPING = "STOPPING"  # SIGTERM, SIGKILL after the container's stopTimeout
DEPROVISIONING = "DEPROVISIONING"  # its network interface is released
STOPPED = "STOPPED"

# stopCode values, as AWS reports them.
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
USER_INITIATED = "UserInitiated"
SERVICE_SCHEDULER_INITIATED = "ServiceSchedulerInitiated"
TASK_FAILED_TO_START = "TaskFailedToStart"
TERMINATION_NOTICE = "TerminationNotice"  # the task's infrastructure went away

ESSENTIAL_EXIT_REASON = "Essential container in task exited"


@dataclass(frozen=True)
class Placement:
    subnet: str | None
    az: str | None


@dataclass
class TaskRecord:
    task_arn: str
    task_id: str
    cluster: str
    family: str
    group: str
    started_by: str
    container: str
    placement: Placement
    log_path: Path
    stop_grace_wall: float  # the container's stopTimeout, in wall seconds
    created_at: float  # simulated epoch seconds, like every timestamp here
    port: int | None = None
    pid: int | None = None
    # The task definition's revision and task-level cpu units / memory MiB (its metadata).
    revision: int | None = None
    cpu: str | None = None
    memory: str | None = None
    # The task role, and the token its containers present to the credentials endpoint.
    role_arn: str | None = None
    credentials_token: str | None = field(default=None, repr=False)
    last_status: str = PROVISIONING
    desired_status: str = RUNNING
    exit_code: int | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    exited: threading.Event = field(default_factory=threading.Event, repr=False)
    handle: Any = field(default=None, repr=False)  # the emulator's own task object
    # Every lastStatus the task had, with the simulated time it entered it.
    history: list[tuple[str, float]] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.task_id[:12]

    @property
    def reached_running(self) -> bool:
        return self.started_at is not None

    @property
    def live(self) -> bool:
        """Counts toward a service's tasks: started and not asked to stop."""
        return self.last_status != STOPPED and self.desired_status == RUNNING

    def status(self) -> dict[str, Any]:
        return {
            "task_arn": self.task_arn, "short_id": self.short_id, "group": self.group,
            "family": self.family, "started_by": self.started_by, "pid": self.pid,
            "port": self.port, "az": self.placement.az, "subnet": self.placement.subnet,
            "last_status": self.last_status, "desired_status": self.desired_status,
            "exit_code": self.exit_code, "stop_code": self.stop_code,
            "stopped_reason": self.stopped_reason, "created_at": self.created_at,
            "started_at": self.started_at,
            "stopping_at": self.stopping_at, "stopped_at": self.stopped_at,
            "log": str(self.log_path), "history": [[s, t] for s, t in self.history],
        }
