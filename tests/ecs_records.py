"""One local ECS task's record, as the runtime keeps it, for the endpoint tests (metadata,
credentials): a running strategy task with its definition's revision and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradai_sim.cloud.ecs.models import Placement, TaskRecord

ARN = "arn:aws:ecs:eu-central-1:123456789012:task/tradai-local-strategies/0123abcd"


def task_record(**changes: Any) -> TaskRecord:
    values: dict[str, Any] = dict(
        task_arn=ARN, task_id="0123abcd", cluster="tradai-local-strategies",
        family="tradai-local-strategy", group="family:tradai-local-strategy",
        started_by="", container="strategy",
        placement=Placement("subnet-1", "eu-central-1b"), log_path=Path("/dev/null"),
        stop_grace_wall=30.0, created_at=1_800_000_000.0, revision=7, cpu="1024",
        memory="2048", started_at=1_800_000_010.0, last_status="RUNNING")
    values.update(changes)
    return TaskRecord(**values)
