"""Submission and status: validate, record the ticket QUEUED, then enqueue (in that order, so
``GET`` on a returned ticket never answers 404).

MessageGroupId is per owner: FIFO delivers one group's messages in order and one at a time,
so a user's burst of submissions queues behind itself while other users' groups proceed;
grouping per strategy would make every user of a popular strategy wait for each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tradai.backtests import dedup, stages
from tradai.backtests.errors import DependencyUnavailable, InvalidSubmission
from tradai.backtests.models import (
    BacktestRequest,
    BacktestResult,
    BacktestStatus,
    BacktestTicket,
    JobEvent,
    JobStatus,
)
from tradai.backtests.queue import BacktestQueue
from tradai.backtests.store import TicketStore
from tradai.backtests.validation import ResolvedBacktest, StrategyRegistry, resolve
from tradai.clock import Clock


@dataclass(frozen=True)
class SubmissionPolicy:
    max_pairs: int = 20
    ttl_days: int = 30


@dataclass(frozen=True)
class Owner:
    id: str  # the token's ``sub``: stable, never reused
    name: str | None = None


class BacktestService:
    def __init__(self, store: TicketStore, queue: BacktestQueue, registry: StrategyRegistry,
                 clock: Clock, policy: SubmissionPolicy) -> None:
        self.store = store
        self.queue = queue
        self.registry = registry
        self.clock = clock
        self.policy = policy

    # -- submission ---------------------------------------------------------------------------
    def submit(self, request: BacktestRequest, owner: Owner,
               idempotency_key: str | None = None) -> BacktestTicket:
        canonical = request.canonical()
        fingerprint = dedup.request_fingerprint(canonical)
        now = self.clock.now()
        if idempotency_key is not None:
            reason = dedup.check_idempotency_key(idempotency_key)
            if reason:
                raise InvalidSubmission("Idempotency-Key", reason, location="header")
            key = dedup.by_idempotency_key(owner.id, idempotency_key)
            # A key is nearly always new: no read first. The conditional create below finds a
            # live ticket of this key, and a retry the registry now refuses (or cannot
            # judge) still gets the ticket it was given.
            try:
                job = resolve(request, self.registry, self.policy.max_pairs)
            except (InvalidSubmission, DependencyUnavailable):
                existing = self.store.get(key.job_id)
                if existing is None:
                    raise
                return self._duplicate(existing, fingerprint)
        else:
            key, previous = dedup.by_content(owner.id, canonical, now)
            existing = self._recent(self.store.get_many([key.job_id, previous.job_id]),
                                    key.job_id, now)
            if existing is not None:
                return self._duplicate(existing, fingerprint)
            job = resolve(request, self.registry, self.policy.max_pairs)

        record = self._record(key, job, canonical, fingerprint, owner, now, idempotency_key)
        if not self.store.create(record):  # a concurrent duplicate wrote it first
            winner = self.store.get(key.job_id)
            if winner is not None:
                return self._duplicate(winner, fingerprint)
        self._enqueue(record)
        return BacktestTicket(ticket_id=key.job_id, job_id=key.job_id)

    @staticmethod
    def _recent(items: list[dict[str, Any]], current: str, now: float) -> dict[str, Any] | None:
        for item in items:
            age = now - float(item.get("submitted_epoch", 0))
            if item["job_id"] == current or age < dedup.DEDUP_WINDOW_SECONDS:
                return item
        return None

    def _duplicate(self, existing: dict[str, Any], fingerprint: str) -> BacktestTicket:
        if existing.get("fingerprint") != fingerprint:
            raise InvalidSubmission("Idempotency-Key", "already used for a different request; "
                                    "use a new key", location="header")
        if existing.get("status") == JobStatus.QUEUED:
            # Not started yet: the first attempt may have stopped between record and send, so
            # send again, with its deduplication id. If its message did reach SQS, the copy is
            # dropped there within the 5-minute deduplication interval, and after it the
            # consumer's start is idempotent (the job is started once, by either copy). A
            # failed send keeps the ticket: its first message may be waiting in the queue.
            self._enqueue(existing, take_back=False)
        return BacktestTicket(ticket_id=existing["job_id"], job_id=existing["job_id"],
                              status=JobStatus(existing["status"]), duplicate=True)

    def _record(self, key: dedup.TicketKey, job: ResolvedBacktest, canonical: dict[str, Any],
                fingerprint: str, owner: Owner, now: float,
                idempotency_key: str | None) -> dict[str, Any]:
        created = self.clock.now_datetime().isoformat()
        return {
            "job_id": key.job_id, "owner": owner.id, "owner_name": owner.name,
            "created_at": created, "updated_at": created, "submitted_epoch": int(now),
            "status": JobStatus.QUEUED.value, "progress": 0, "kind": "backtest",
            "strategy": job.strategy, "version": job.version,
            "request": canonical, "job": job.as_message(), "fingerprint": fingerprint,
            "idempotency_key": idempotency_key, "dedup_id": key.dedup_id,
            "ttl": int(now) + self.policy.ttl_days * 86400,
            stages.attr("submitted"): stages.stamp(now),
        }

    def _enqueue(self, record: dict[str, Any], take_back: bool = True) -> None:
        # No write after the send: a retry sends again whatever is still QUEUED (above), and
        # so does the orphan scanner, so the ticket need not record that its message went out.
        try:
            self.queue.send_ticket(record)
        except Exception:
            # Not accepted: take a new ticket back so nothing waits forever for a message.
            if take_back:
                self.store.delete_unqueued(record["job_id"])
            raise


# -- status: needs only the table, so it keeps answering while the registry is down ----------
def ticket_status(store: TicketStore, job_id: str, owner: Owner) -> BacktestStatus | None:
    item = store.get(job_id)
    if item is None or item.get("owner") != owner.id:
        return None  # someone else's ticket is as good as absent
    return to_status(item)


def owner_tickets(store: TicketStore, owner: Owner, limit: int,
                  cursor: str | None) -> tuple[list[BacktestStatus], str | None]:
    items, next_cursor = store.list_by_owner(owner.id, limit, cursor)
    return [to_status(i) for i in items], next_cursor


def to_status(item: dict[str, Any]) -> BacktestStatus:
    """The ticket as the contract shows it; tolerant of what the workflow wrote."""
    status = _status(item.get("status"))
    progress = 100.0 if status == JobStatus.COMPLETED else float(item.get("progress") or 0)
    return BacktestStatus(
        job_id=item["job_id"], status=status, progress=min(max(progress, 0.0), 100.0),
        strategy=str(item.get("strategy", "")), version=item.get("version"),
        request=item.get("job") or item.get("request") or {},
        created_at=str(item.get("created_at", "")), updated_at=item.get("updated_at"),
        result=_result(item.get("result")) if status == JobStatus.COMPLETED else None,
        error=(str(item.get("error") or "failed without a reason")
               if status == JobStatus.FAILED else None),
        mlflow_url=item.get("mlflow_url"), events=_events(item.get("events")),
        cancelled_by=item.get("cancelled_by") if status == JobStatus.CANCELLED else None,
        cancelled_at=item.get("cancelled_at") if status == JobStatus.CANCELLED else None,
        timings=stages.timings(item),
    )


def _events(value: Any) -> list[JobEvent]:
    """The recorded history; an entry the contract does not know is left out, not an error."""
    events = []
    for raw in value if isinstance(value, list) else []:
        try:
            events.append(JobEvent.model_validate(raw))
        except ValidationError:
            continue
    return events


def _status(value: Any) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        # A state the contract does not name is still work in progress, not an error.
        return JobStatus.RUNNING if value else JobStatus.QUEUED


def _result(value: Any) -> BacktestResult | None:
    if not isinstance(value, dict):
        return None
    try:
        return BacktestResult.model_validate(value)
    except ValidationError:
        return BacktestResult.model_construct(**value)
