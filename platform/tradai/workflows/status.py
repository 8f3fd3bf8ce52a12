"""Job status in the workflow-state table, as the workflow moves it.

QUEUED (written by the backend) -> RUNNING (consumer, then the workflow with progress; the
strategy container adds progress, ``result`` and ``mlflow_url``) -> COMPLETED or FAILED.
Every write is conditional: a terminal job never moves again, so a late or repeated step
(a retried Lambda, a redelivered message, a cleanup after success) cannot undo an outcome.
``ttl`` is set once (if missing) so every item the workflow touches expires as the spec says.

One exception, for a job that never ran: FAILED *because it could not be started*
(``start_failed``: the consumer gave up on its last allowed receive, or the orphan scanner
found no execution for it) may move back to QUEUED once its message comes back (replayed
from the dead-letter queue). The move clears the mark, so a job that then runs and fails
stays FAILED. COMPLETED never moves.

CANCELLED (its owner, through the API) is terminal too, and reached only from QUEUED or
RUNNING by the owner's conditional write (``cancel``), made before anything is stopped: a
start that registers afterwards is refused, and the workflow's own updates never move it.

``events`` is the job's history as its owner sees it (``at``, ``event``, ``detail``),
appended in the same conditional write as the transition it records. The same writes record
the instants of ``tradai.backtests.stages`` (dequeued, finished, and what RUNNING is handed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tradai.backtests import stages
from tradai.backtests.models import JobStatus
from tradai.backtests.store import from_item, to_item
from tradai.clock import Clock
from tradai.expiry import is_expired

TERMINAL = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
_NOT_TERMINAL = "(#s <> :completed AND #s <> :failed AND #s <> :cancelled)"
CANCELLABLE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
PROGRESS_REGISTERED = 5  # the consumer started the workflow
MAX_REASON = 1000
START_FAILED = "start_failed"  # FAILED because it could not be started: may be replayed
REPLAYED_FROM_DLQ = "from the dead-letter queue"


class JobMissing(LookupError):
    """No ticket with this job id (it expired, or the id is wrong)."""


@dataclass(frozen=True)
class Transition:
    job_id: str
    status: str
    applied: bool  # False: the job was already terminal and stays as it was
    previous: str | None = None


@dataclass(frozen=True)
class Cancellation:
    """The outcome of ``JobStatusStore.cancel``: ``before`` is the item as the write found it
    (its ``execution_arn`` is what must be stopped); not applied: ``status`` is why."""
    job_id: str
    applied: bool
    status: str | None
    before: dict[str, Any]


def _percent(value: float) -> Decimal:
    """DynamoDB takes numbers as Decimal; progress is a percentage."""
    return Decimal(str(round(min(max(float(value), 0.0), 100.0), 1)))


class JobStatusStore:
    def __init__(self, dynamodb: Any, table: str, clock: Clock, ttl_days: int = 30) -> None:
        self.ddb = dynamodb
        self.table = table
        self.clock = clock
        self.ttl_days = ttl_days

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job, or None; an expired ticket not yet deleted by TTL is None too."""
        item = self.ddb.get_item(TableName=self.table, Key={"job_id": {"S": job_id}},
                                 ConsistentRead=True).get("Item")
        job = from_item(item) if item else None
        return None if job is None or is_expired(job, self.clock.now()) else job

    # -- transitions ------------------------------------------------------------------------
    def register(self, job_id: str, message: dict[str, Any], execution_arn: str) -> Transition:
        """The consumer: RUNNING with the execution's ARN. A ticket that arrived without a
        backend record (a direct queue integration) is created from the message."""
        now = self.clock.now()
        stamp = self.clock.now_datetime().isoformat()
        job = {k: message.get(k) for k in ("strategy", "version", "alias", "pairs", "timeframe",
                                           "timerange", "strategy_class", "config_s3_path",
                                           "mode", "epochs")}
        job = {k: v for k, v in job.items() if v is not None}
        sets = {"status": JobStatus.RUNNING.value, "execution_arn": execution_arn,
                "updated_at": stamp, "started_at": stamp,
                stages.attr("dequeued"): stages.stamp(now)}
        if_missing = {"progress": PROGRESS_REGISTERED, "ttl": int(now) + self.ttl_days * 86400,
                      "owner": message.get("owner") or "unknown", "kind": "backtest",
                      "created_at": message.get("submitted_at") or stamp,
                      "strategy": message.get("strategy") or "", "version": message.get("version"),
                      "job": job, "request": job}
        return self._update(job_id, sets, if_missing, must_exist=False)

    def running(self, job_id: str, progress: float,
                instants: dict[str, Decimal] | None = None) -> Transition:
        """Progress of a running workflow; its first report is the job's "running" event.
        ``instants``: stage attributes (``stages.reported``) the workflow passed on."""
        sets = {"status": JobStatus.RUNNING.value, "progress": _percent(progress),
                "updated_at": self.clock.now_datetime().isoformat(), **(instants or {})}
        first = self._update(job_id, sets, event=self._event("running"), once=True)
        if first.applied or first.status in TERMINAL:
            return first
        return self._update(job_id, sets)  # "running" is recorded already

    def completed(self, job_id: str) -> Transition:
        stamp = self.clock.now_datetime().isoformat()
        return self._update(job_id, {"status": JobStatus.COMPLETED.value, "progress": 100,
                                     "updated_at": stamp, "finished_at": stamp,
                                     **self._finished()},
                            event=self._event("completed"))

    def failed(self, job_id: str, reason: str) -> Transition:
        """The job ran (or was refused by validation) and failed: it never restarts."""
        reason = reason[:MAX_REASON] or "failed without a reason"
        stamp = self.clock.now_datetime().isoformat()
        return self._update(job_id, {"status": JobStatus.FAILED.value, "error": reason,
                                     "updated_at": stamp, "finished_at": stamp,
                                     **self._finished()},
                            must_exist=False, event=self._event("failed", reason))

    def start_failed(self, job_id: str, reason: str) -> Transition:
        """FAILED because the job could not be started: a replay of its message may start it
        after all (``reopen``)."""
        reason = reason[:MAX_REASON] or "could not be started"
        stamp = self.clock.now_datetime().isoformat()
        return self._update(job_id, {"status": JobStatus.FAILED.value, "error": reason,
                                     START_FAILED: True, "updated_at": stamp,
                                     "finished_at": stamp, **self._finished()},
                            must_exist=False, event=self._event("start-failed", reason))

    def reopen(self, job_id: str, detail: str = REPLAYED_FROM_DLQ) -> Transition:
        """FAILED-because-not-started -> QUEUED, once: the mark is cleared in the same write,
        so neither a second delivery nor a later failure of the run can reopen it again."""
        expr = _Expression()
        expr.set("status", JobStatus.QUEUED.value)
        expr.set("progress", 0)
        expr.set("updated_at", self.clock.now_datetime().isoformat())
        expr.append_event(self._event("replayed", detail))
        # execution_arn too: no execution of it exists, so the next start is a fresh one.
        for attr in (START_FAILED, "error", "finished_at", "execution_arn",
                     stages.attr("finished")):
            expr.remove(attr)
        expr.values.update({":failed": JobStatus.FAILED.value, ":true": True})
        condition = f"attribute_exists(job_id) AND #s = :failed AND {expr.name(START_FAILED)} " \
                    f"= :true"
        return self._write(job_id, expr, condition, JobStatus.QUEUED.value)

    def cancel(self, job_id: str, owner: str, by: str,
               from_statuses: tuple[str, ...] = CANCELLABLE) -> Cancellation:
        """The owner cancels: ``from_statuses`` -> CANCELLED with who and when, in one
        conditional write (a job that finished or started meanwhile is not touched)."""
        stamp = self.clock.now_datetime().isoformat()
        expr = _Expression()
        expr.set("status", JobStatus.CANCELLED.value)
        for attr in ("updated_at", "finished_at", "cancelled_at"):
            expr.set(attr, stamp)
        expr.set(stages.attr("finished"), stages.stamp(self.clock.now()))
        expr.set("cancelled_by", by)
        expr.append_event(self._event("cancelled", f"by {by}"))
        expr.remove(START_FAILED)  # a cancelled job is never reopened by a replay
        allowed = [f":from{i}" for i in range(len(from_statuses))]
        expr.values.update(dict(zip(allowed, from_statuses, strict=True)))
        expr.values[":owner"] = owner
        condition = (f"attribute_exists(job_id) AND {expr.name('owner')} = :owner AND "
                     f"#s IN ({', '.join(allowed)})")
        old = self._conditional_update(job_id, expr, condition, returns="ALL_OLD")
        if old is None:
            item = self.get(job_id) or {}
            return Cancellation(job_id, False, item.get("status"), item)
        return Cancellation(job_id, True, JobStatus.CANCELLED.value, old)

    def _finished(self) -> dict[str, Decimal]:
        return {stages.attr("finished"): stages.stamp(self.clock.now())}

    def _event(self, kind: str, detail: str | None = None) -> dict[str, Any]:
        event = {"at": self.clock.now_datetime().isoformat(), "event": kind}
        if detail:
            event["detail"] = detail[:MAX_REASON]
        return event

    def _update(self, job_id: str, sets: dict[str, Any], if_missing: dict[str, Any] | None = None,
                must_exist: bool = True, event: dict[str, Any] | None = None,
                once: bool = False) -> Transition:
        """Move a job that is not terminal; ``event`` joins its history (``once``: unless it
        is already the latest event)."""
        if_missing = {k: v for k, v in (if_missing or {}).items() if v is not None}
        if_missing.setdefault("ttl", int(self.clock.now()) + self.ttl_days * 86400)
        expr = _Expression()
        for k, v in sets.items():
            expr.set(k, v)
        for k, v in if_missing.items():
            expr.set_if_missing(k, v)
        if event is not None:
            expr.append_event(event)
        exists = "attribute_exists(job_id) AND " if must_exist else ""
        condition = f"{exists}(attribute_not_exists(#s) OR {_NOT_TERMINAL})"
        expr.values.update({":completed": JobStatus.COMPLETED.value,
                            ":failed": JobStatus.FAILED.value,
                            ":cancelled": JobStatus.CANCELLED.value})
        if event is not None and once:
            last = expr.name("last_event")
            condition += f" AND (attribute_not_exists({last}) OR {last} <> :event)"
        return self._write(job_id, expr, condition, str(sets["status"]))

    def _write(self, job_id: str, expr: _Expression, condition: str, status: str
               ) -> Transition:
        old = self._conditional_update(job_id, expr, condition, returns="UPDATED_OLD")
        if old is None:
            item = self.get(job_id)
            if item is None:
                raise JobMissing(f"no job {job_id} in the workflow-state table")
            return Transition(job_id, str(item.get("status")), applied=False,
                              previous=str(item.get("status")))
        return Transition(job_id, status, applied=True, previous=old.get("status"))

    def _conditional_update(self, job_id: str, expr: _Expression, condition: str,
                            returns: str) -> dict[str, Any] | None:
        """One conditional UpdateItem: the attributes ``returns`` asks for, or None when the
        condition failed (the caller reads what the job is now)."""
        try:
            resp = self.ddb.update_item(
                TableName=self.table, Key={"job_id": {"S": job_id}},
                UpdateExpression=expr.update_expression(), ConditionExpression=condition,
                ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=to_item(expr.values), ReturnValues=returns)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return from_item(resp.get("Attributes") or {})


class _Expression:
    """An UpdateExpression with its placeholders: SET, if-missing SET, list append, REMOVE."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {"#s": "status"}
        self.values: dict[str, Any] = {}
        self._sets: list[str] = []
        self._removes: list[str] = []

    def name(self, attr: str) -> str:
        if attr == "status":
            return "#s"
        placeholder = f"#n{len(self.names)}"
        found = next((k for k, v in self.names.items() if v == attr), None)
        if found is not None:
            return found
        self.names[placeholder] = attr
        return placeholder

    def _value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attr: str, value: Any) -> None:
        self._sets.append(f"{self.name(attr)} = {self._value(value)}")

    def set_if_missing(self, attr: str, value: Any) -> None:
        n = self.name(attr)
        self._sets.append(f"{n} = if_not_exists({n}, {self._value(value)})")

    def append_event(self, event: dict[str, Any]) -> None:
        events = self.name("events")
        self.values[":event"] = event["event"]
        self._sets.append(f"{events} = list_append(if_not_exists({events}, "
                          f"{self._value([])}), {self._value([event])})")
        self._sets.append(f"{self.name('last_event')} = :event")

    def remove(self, attr: str) -> None:
        self._removes.append(self.name(attr))

    def update_expression(self) -> str:
        text = "SET " + ", ".join(self._sets)
        return text + (" REMOVE " + ", ".join(self._removes) if self._removes else "")
