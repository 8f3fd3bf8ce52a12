"""Starting the Backtest Workflow for a queued job, at most once and within capacity.

Three guards make a duplicate or redelivered message harmless: the idempotency record of the
consumer (Powertools, keyed by job id), the job's status (a finished job is never restarted)
and the execution name, which is the job id: Step Functions itself refuses a second execution
with that name (ExecutionAlreadyExists counts as success).

Capacity: every running execution will hold (or holds) one strategy task, so counting the
workflow's RUNNING executions bounds the tasks from above; at the limit the job is not
started and its message waits on the queue (see ``consumer``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tradai.workflows.status import TERMINAL, JobStatusStore

DEFAULT_MODE = "backtest"
MODES = ("backtest", "hyperopt")
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# The workflow's input: what the steps read (the container reads the rest from the item).
INPUT_FIELDS = ("job_id", "owner", "strategy", "version", "alias", "pairs", "timeframe",
                "timerange", "strategy_class", "config_s3_path", "epochs")


class AtCapacity(RuntimeError):
    """As many workflows are running as strategy tasks may run; try again later."""


class InvalidMessage(ValueError):
    """The message cannot name a job (no retry makes it valid)."""


@dataclass(frozen=True)
class StartResult:
    job_id: str
    outcome: str  # started | already-started | already-finished
    execution_arn: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "outcome": self.outcome,
                "execution_arn": self.execution_arn}


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def workflow_input(message: dict[str, Any]) -> dict[str, Any]:
    data = {k: message[k] for k in INPUT_FIELDS if message.get(k) is not None}
    mode = message.get("mode") or DEFAULT_MODE
    if mode not in MODES:
        raise InvalidMessage(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    return {**data, "mode": mode}


def job_id_of(message: dict[str, Any]) -> str:
    job_id = message.get("job_id") or message.get("ticket_id")
    if not isinstance(job_id, str) or not _EXECUTION_NAME.match(job_id):
        raise InvalidMessage(f"message has no usable job_id: {job_id!r}")
    return job_id


class WorkflowStarter:
    def __init__(self, sfn: Any, statuses: JobStatusStore, state_machine_arn: str,
                 max_concurrent: int) -> None:
        self.sfn = sfn
        self.statuses = statuses
        self.state_machine_arn = state_machine_arn
        self.max_concurrent = max_concurrent

    def running(self) -> int:
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")
        return sum(len(p["executions"]) for p in pages)

    def start(self, message: dict[str, Any]) -> dict[str, Any]:
        """Start the job's execution (idempotent; raises AtCapacity at the limit)."""
        job_id = job_id_of(message)
        payload = workflow_input({**message, "job_id": job_id})
        arn = execution_arn(self.state_machine_arn, job_id)
        item = self.statuses.get(job_id)
        if item is not None and item.get("status") in TERMINAL:
            return StartResult(job_id, "already-finished").as_dict()
        resumed = item is not None and item.get("execution_arn") == arn
        if not resumed and self.running() >= self.max_concurrent:
            raise AtCapacity(f"{self.max_concurrent} backtests running; job {job_id} waits")
        if not self.statuses.register(job_id, {**message, **payload}, arn).applied:
            return StartResult(job_id, "already-finished").as_dict()
        try:
            # Same name and input while running: AWS answers with the same execution.
            self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=job_id,
                                     input=json.dumps(payload))
        except self.sfn.exceptions.ExecutionAlreadyExists:
            return StartResult(job_id, "already-started", arn).as_dict()
        return StartResult(job_id, "already-started" if resumed else "started", arn).as_dict()
