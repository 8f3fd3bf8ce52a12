"""CleanupResources: stop the strategy tasks a failed job left running.

RunBacktest starts the task in group ``backtest:<job_id>``, so the job's tasks are found
whatever happened to the execution (a state timeout leaves the container running; a crash
has already stopped it). The failed state's task description, when the error carries one,
is checked as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

GROUP_PREFIX = "backtest:"
STOPPED = "STOPPED"


class ECSUnavailable(RuntimeError):
    """ECS did not answer (retried by the workflow)."""


def task_group(job_id: str) -> str:
    return f"{GROUP_PREFIX}{job_id}"


def task_from_error(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    try:
        cause = json.loads(error.get("Cause") or "")
    except (TypeError, ValueError):
        return None
    arn = cause.get("TaskArn") if isinstance(cause, dict) else None
    return arn if isinstance(arn, str) else None


class TaskCleaner:
    def __init__(self, ecs: Any, cluster: str, family: str,
                 group_prefix: str = GROUP_PREFIX) -> None:
        self.ecs = ecs
        self.cluster = cluster
        self.family = family
        self.group_prefix = group_prefix  # the Retraining workflow's tasks: "retraining:"

    def stop_job_tasks(self, job_id: str, error: Any = None, reason: str | None = None
                       ) -> list[str]:
        try:
            return self._stop(job_id, task_from_error(error),
                              reason or f"{self.group_prefix}{job_id} failed: cleanup")
        except (ClientError, BotoCoreError) as exc:
            raise ECSUnavailable(f"ECS: {exc}") from exc

    def running_tasks(self, known: str | None = None) -> Iterator[dict[str, Any]]:
        """The strategy tasks ECS still runs (plus ``known``), described."""
        arns = [arn for page in self.ecs.get_paginator("list_tasks").paginate(
            cluster=self.cluster, family=self.family, desiredStatus="RUNNING")
            for arn in page["taskArns"]]
        if known and known not in arns:
            arns.append(known)
        for i in range(0, len(arns), 100):  # describe_tasks takes at most 100
            for task in self.ecs.describe_tasks(cluster=self.cluster,
                                                tasks=arns[i:i + 100])["tasks"]:
                if task.get("lastStatus") != STOPPED:
                    yield task

    def stop(self, task_arn: str, reason: str) -> None:
        self.ecs.stop_task(cluster=self.cluster, task=task_arn, reason=reason)

    def _stop(self, job_id: str, known: str | None, reason: str) -> list[str]:
        group = f"{self.group_prefix}{job_id}"
        stopped = []
        for task in self.running_tasks(known):
            if task.get("group") == group or task["taskArn"] == known:
                self.stop(task["taskArn"], reason)
                stopped.append(task["taskArn"])
        return stopped
