"""Starting the Backtest Workflow for a queued job, at most once and within capacity.

Three guards make a duplicate or redelivered message harmless: the idempotency record of the
consumer (Powertools, keyed by job id), the job's status (a finished job is never restarted)
and the execution name, which is the job id: Step Functions itself refuses a second execution
with that name (ExecutionAlreadyExists counts as success).

The one finished job that starts after all: FAILED because it could not be started (the
``start_failed`` mark) and with no execution of its name, i.e. it never ran. When its message
comes back (replayed from the dead-letter queue) it moves back to QUEUED and starts as any
queued job; the move is conditional, so a second delivery starts nothing twice.

A job its owner cancelled (CANCELLED, terminal) is acknowledged without starting. Cancel and
start may meet: cancel writes CANCELLED before it stops anything and ``register`` moves only
a job that is not terminal, so a cancel that comes first wins; a cancel that comes between
``register`` and StartExecution finds no execution to stop, so the start path reads the job
again after starting it and stops the execution itself.

Capacity: a job takes a slot (``tradai.workflows.slots``, a conditional write in DynamoDB)
before its execution starts and keeps it until the workflow records its end, so concurrent
consumers never start more executions, hence strategy tasks, than there are slots; with
every slot held the job is not started and its message waits on the queue (see ``consumer``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tradai.backtests.models import JobStatus
from tradai.workflows.slots import SlotLease
from tradai.workflows.status import REPLAYED_FROM_DLQ, START_FAILED, TERMINAL, JobStatusStore

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
    outcome: str  # started | already-started | already-finished | cancelled
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
                 slots: SlotLease) -> None:
        self.sfn = sfn
        self.statuses = statuses
        self.state_machine_arn = state_machine_arn
        self.slots = slots

    def start(self, message: dict[str, Any], replay_detail: str = REPLAYED_FROM_DLQ
              ) -> dict[str, Any]:
        """Start the job's execution (idempotent; raises AtCapacity at the limit).
        ``replay_detail`` says where the message came from if it reopens a job."""
        job_id = job_id_of(message)
        payload = workflow_input({**message, "job_id": job_id})
        arn = execution_arn(self.state_machine_arn, job_id)
        item = self.statuses.get(job_id)
        if item is not None and item.get("status") == JobStatus.CANCELLED:
            return StartResult(job_id, "cancelled").as_dict()
        if item is not None and item.get("status") in TERMINAL:
            item = self._replay(job_id, item, arn, replay_detail)
            if item is None:
                return StartResult(job_id, "already-finished").as_dict()
        resumed = item is not None and item.get("execution_arn") == arn
        if self.slots.acquire(job_id, arn) is None:  # a resumed job gets its own slot back
            raise AtCapacity(f"all {self.slots.size} backtest slots are held; job {job_id} "
                             f"waits")
        if not self.statuses.register(job_id, {**message, **payload}, arn).applied:
            self.slots.release(job_id)
            return StartResult(job_id, "already-finished").as_dict()
        try:
            # Same name and input while running: AWS answers with the same execution.
            self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=job_id,
                                     input=json.dumps(payload))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                # Refused: nothing started. (A lost answer keeps the slot: the execution may
                # exist, and a reclaim checks.)
                self.slots.release(job_id)
                raise
            return self._unless_cancelled(job_id, arn, "already-started")
        return self._unless_cancelled(job_id, arn, "already-started" if resumed else "started")

    def _unless_cancelled(self, job_id: str, arn: str, outcome: str) -> dict[str, Any]:
        """Cancelled while it was being started (the cancel found no execution yet): stop
        the execution now."""
        again = self.statuses.get(job_id)
        if again is None or again.get("status") != JobStatus.CANCELLED:
            return StartResult(job_id, outcome, arn).as_dict()
        self.sfn.stop_execution(executionArn=arn, error="Cancelled",
                                cause=f"backtest {job_id} was cancelled while starting")
        return StartResult(job_id, "cancelled", arn).as_dict()

    def _replay(self, job_id: str, item: dict[str, Any], arn: str, detail: str
                ) -> dict[str, Any] | None:
        """The job to go on with if a finished one may start after all, else None."""
        if item.get("status") != JobStatus.FAILED or not item.get(START_FAILED) \
                or self._execution_exists(arn):
            return None  # it ran (or is running): its outcome stands
        self.statuses.reopen(job_id, detail)  # not applied: a concurrent delivery did it
        again = self.statuses.get(job_id)
        if again is None or again.get("status") in TERMINAL:
            return None
        return again

    def _execution_exists(self, arn: str) -> bool:
        try:
            self.sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return False
            raise
        return True
