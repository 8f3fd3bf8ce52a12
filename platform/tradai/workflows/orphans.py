"""Orphans: what a workflow left behind when it could not record its own end.

Two kinds, both resolved so that nothing accepted stays RUNNING forever:
- a job marked RUNNING whose Step Functions execution is no longer running (it timed out, was
  aborted, or its UpdateStatusFailed step itself failed): its tasks are stopped and the job is
  marked FAILED with the execution's status as the reason; a job with no execution at all
  never started, and is marked so (a replay of its message may still start it) once the
  queue can no longer deliver its message again (before that, the consumer's next attempt
  starts it, or its last attempt marks it);
- a strategy task of a job that is already COMPLETED or FAILED (or unknown): it is stopped.

Backtest slots (``tradai.workflows.slots``) of the jobs it marks are freed, and so is any
slot whose holder's execution is no longer running (at most one DescribeExecution per slot).

A ticket still QUEUED a minute after it was recorded may never have been sent: the backend
writes nothing after its send, so a process that stopped between the put and the send left
no trace but the ticket. Its message is sent again, once per ticket (``resent_at``, set by a
conditional write first, so two scans never both send): if the first message did go out,
SQS drops the copy within its 5-minute deduplication interval, and after it the consumer's
start is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tradai.backtests.queue import BacktestQueue
from tradai.backtests.store import from_item
from tradai.expiry import not_expired_condition
from tradai.workflows.cleanup import GROUP_PREFIX, TaskCleaner
from tradai.workflows.slots import SlotLease
from tradai.workflows.status import TERMINAL, JobStatusStore

STATUS_INDEX = "by-status"  # workflow-state GSI, hash key ``status`` (topology spec)
log = logging.getLogger(__name__)
RESEND_AFTER_SECONDS = 60.0  # a ticket younger than this may still be in its own send


@dataclass
class OrphanReport:
    running_jobs: int = 0
    failed_jobs: list[str] = field(default_factory=list)
    stopped_tasks: list[str] = field(default_factory=list)
    freed_slots: list[int] = field(default_factory=list)
    resent_jobs: list[str] = field(default_factory=list)


class OrphanScanner:
    def __init__(self, store: JobStatusStore, sfn: Any, cleaner: TaskCleaner,
                 start_grace_seconds: float = 0.0, slots: SlotLease | None = None,
                 queue: BacktestQueue | None = None) -> None:
        """``start_grace_seconds``: how long after its last registration a job without an
        execution may still be started by a redelivery of its message (the queue's visibility
        timeout times its maxReceiveCount); until then it is not an orphan."""
        self.store = store
        self.sfn = sfn
        self.cleaner = cleaner
        self.start_grace_seconds = start_grace_seconds
        self.slots = slots
        self.queue = queue

    def scan(self) -> OrphanReport:
        report = OrphanReport()
        for job in self._running_jobs():
            report.running_jobs += 1
            ended = self._ended_execution(job)
            if ended is None:
                continue
            reason, ran = ended
            report.stopped_tasks += self.cleaner.stop_job_tasks(job["job_id"])
            mark = self.store.failed if ran else self.store.start_failed
            if mark(job["job_id"], reason).applied:
                report.failed_jobs.append(job["job_id"])
            if self.slots is not None:
                report.freed_slots += self.slots.release(job["job_id"])
        report.stopped_tasks += self._stop_tasks_of_finished_jobs()
        if self.slots is not None:
            report.freed_slots += self.slots.sweep()
        if self.queue is not None:
            report.resent_jobs = self._resend_unqueued(self.queue)
        return report

    def _running_jobs(self) -> list[dict[str, Any]]:
        return self._jobs_in("RUNNING")

    def _resend_unqueued(self, queue: BacktestQueue) -> list[str]:
        resent = []
        now = self.store.clock.now()
        for ticket in self._jobs_in("QUEUED"):
            if ticket.get("resent_at") is not None or not ticket.get("dedup_id") \
                    or now - float(ticket.get("submitted_epoch") or now) < RESEND_AFTER_SECONDS:
                continue  # re-sent already, not the backend's ticket, or too young
            if not self._claim_resend(ticket["job_id"], now):
                continue  # started meanwhile, or another scan claimed it
            try:
                queue.send_ticket(ticket)
            except Exception as exc:  # the queue is down: the next scan tries again
                log.warning("could not re-send job %s: %s", ticket["job_id"], exc)
                self._release_resend(ticket["job_id"])
                continue
            resent.append(ticket["job_id"])
        return resent

    def _claim_resend(self, job_id: str, now: float) -> bool:
        try:
            self.store.ddb.update_item(
                TableName=self.store.table, Key={"job_id": {"S": job_id}},
                UpdateExpression="SET resent_at = :now",
                ConditionExpression="#s = :queued AND attribute_not_exists(resent_at)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":queued": {"S": "QUEUED"},
                                           ":now": {"N": f"{now:.3f}"}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _release_resend(self, job_id: str) -> None:
        self.store.ddb.update_item(TableName=self.store.table, Key={"job_id": {"S": job_id}},
                                   UpdateExpression="REMOVE resent_at")

    def _jobs_in(self, status: str) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        # An expired ticket not yet deleted by TTL is gone: nothing to settle.
        alive, names, values = not_expired_condition(self.store.clock.now())
        # A Query on the status index reads one status's tickets only; a Scan read (and paid
        # for) every ticket of the table's 30 days. The index is eventually consistent: a job
        # just started is seen by the next run, and a stale entry changes nothing (every mark
        # here is a conditional write that a job in another state refuses).
        kwargs: dict[str, Any] = {
            "TableName": self.store.table, "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :status", "FilterExpression": alive,
            "ExpressionAttributeNames": {"#s": "status", **names},
            "ExpressionAttributeValues": {":status": {"S": status}, **values},
        }
        while True:
            page = self.store.ddb.query(**kwargs)
            jobs += [from_item(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return jobs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _ended_execution(self, job: dict[str, Any]) -> tuple[str, bool] | None:
        """Why a RUNNING job can no longer finish by itself and whether it ran, or None while
        it still can."""
        arn = job.get("execution_arn")
        if not arn:
            return None  # the consumer has not started it yet; it registers before starting
        try:
            status = self.sfn.describe_execution(executionArn=arn)["status"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
            if self._start_may_be_retried(job):
                return None  # the consumer's next attempt starts it or marks it itself
            return "its workflow execution no longer exists", False
        if status == "RUNNING":
            return None
        return (f"its workflow execution ended {status} without recording an outcome "
                f"(found by the orphan scanner)"), True

    def _start_may_be_retried(self, job: dict[str, Any]) -> bool:
        registered = job.get("started_at")
        if not registered or self.start_grace_seconds <= 0:
            return False
        try:
            at = datetime.fromisoformat(str(registered))
        except ValueError:
            return False
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return self.store.clock.now() - at.timestamp() < self.start_grace_seconds

    def _stop_tasks_of_finished_jobs(self) -> list[str]:
        stopped = []
        for task in self.cleaner.running_tasks():
            group = task.get("group") or ""
            if not group.startswith(GROUP_PREFIX):
                continue
            job_id = group[len(GROUP_PREFIX):]
            job = self.store.get(job_id)
            if job is None or job.get("status") in TERMINAL:
                state = job.get("status") if job else "unknown"
                self.cleaner.stop(task["taskArn"], f"orphan: job {job_id} is {state}")
                stopped.append(task["taskArn"])
        return stopped
