"""Cancelling backtests (``DELETE /api/v1/backtests/{job_id}``, and every queued one at once).

Only the owner cancels, and only a job that has not finished. The ticket becomes CANCELLED
(with who and when, and an event) in one conditional write *before* anything is stopped, so:

- a QUEUED job never starts: the consumer's ``register`` refuses a terminal job and its
  message is acknowledged without a start;
- a RUNNING job's execution is stopped (StopExecution) and its strategy task too (StopTask;
  the task is found by its group ``backtest:<job_id>``, whatever the execution's state).
  Step Functions also stops a task its stopped execution was waiting on (``.sync``), the
  explicit StopTask covers a task whose RunTask was under way;
- the ticket is never CANCELLED with an execution left running (a cancel that meets a start
  finds no execution yet: the start path reads the ticket again and stops its own), nor
  RUNNING for a stopped execution (the workflow's updates never move a CANCELLED job).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests.errors import DependencyUnavailable
from tradai.backtests.models import BacktestStatus, JobStatus
from tradai.backtests.service import Owner, to_status
from tradai.backtests.store import TicketStore
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.status import JobStatusStore

log = logging.getLogger(__name__)
QUEUED_ONLY = (JobStatus.QUEUED.value,)
BULK_WRITERS = 8  # conditional writes in flight at once when cancelling every queued job


class CancelRefused(Exception):
    """Not cancelled: ``status`` is the HTTP status (404, 403, 409), ``reason`` says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Canceller:
    def __init__(self, tickets: TicketStore, statuses: JobStatusStore, sfn: Any,
                 cleaner: TaskCleaner) -> None:
        self.tickets = tickets
        self.statuses = statuses
        self.sfn = sfn
        self.cleaner = cleaner

    def cancel(self, job_id: str, owner: Owner) -> BacktestStatus:
        """Cancel one job of ``owner``; the ticket as ``GET`` shows it afterwards."""
        item = self.tickets.get(job_id)
        if item is None:
            raise CancelRefused(404, f"no backtest {job_id}")
        if item.get("owner") != owner.id:
            raise CancelRefused(403, f"backtest {job_id} belongs to another user; only its "
                                     f"owner may cancel it")
        done = self._write(job_id, owner)
        if not done.applied:
            raise CancelRefused(409, f"backtest {job_id} is already {done.status}; only a "
                                     f"QUEUED or RUNNING backtest can be cancelled")
        self._stop(job_id, done.before.get("execution_arn"), by_name(owner))
        after = self.tickets.get(job_id)
        if after is None:  # expired in between: what was written is still the answer
            raise CancelRefused(404, f"no backtest {job_id}")
        return to_status(after)

    def cancel_queued(self, owner: Owner) -> list[str]:
        """Every QUEUED job of ``owner`` (all pages of the owner index); a job that started
        meanwhile is left alone. The conditional writes go out ``BULK_WRITERS`` at a time:
        one by one, a backlog of hundreds outlasts API Gateway's 29 s integration timeout."""
        queued = self.tickets.owner_job_ids(owner.id, JobStatus.QUEUED.value)
        with ThreadPoolExecutor(BULK_WRITERS) as writers:
            applied = list(writers.map(
                lambda job_id: self._write(job_id, owner, QUEUED_ONLY).applied, queued))
        return [job_id for job_id, done in zip(queued, applied, strict=True) if done]

    def _write(self, job_id: str, owner: Owner, from_statuses: tuple[str, ...] | None = None
               ) -> Any:
        kwargs = {"from_statuses": from_statuses} if from_statuses else {}
        try:
            return self.statuses.cancel(job_id, owner.id, by_name(owner), **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable(f"backtest records unavailable, could not cancel "
                                        f"{job_id}", exc) from exc

    def _stop(self, job_id: str, execution_arn: str | None, by: str) -> None:
        """The ticket is CANCELLED already; stop what runs for it."""
        try:
            if execution_arn:
                try:
                    self.sfn.stop_execution(executionArn=execution_arn, error="Cancelled",
                                            cause=f"backtest {job_id} cancelled by {by}")
                except ClientError as exc:
                    # Registered but not started yet: the start path stops it (see module).
                    if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
                        raise
            self.cleaner.stop_job_tasks(job_id, reason=f"backtest {job_id} cancelled by {by}")
        except Exception as exc:
            # CANCELLED stands; the orphan scanner stops tasks of finished jobs.
            log.exception("cancelled %s but could not stop its run", job_id)
            raise DependencyUnavailable(
                f"backtest {job_id} is CANCELLED but its run could not be stopped yet; the "
                f"orphan scanner stops its task", exc) from exc


def by_name(owner: Owner) -> str:
    return owner.name or owner.id
