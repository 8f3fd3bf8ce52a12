"""What the backtest consumer does with one queue record, beyond starting the workflow.

* At capacity the record fails (a partial batch failure) after its visibility is shortened to
  a backoff, so it returns soon and waits on the queue; FIFO keeps the rest of the owner's
  message group behind it, so one user's submissions still start in order.
* Waiting must not exhaust maxReceiveCount (deferrals are not failures). A deferral leaves
  ``SPARE_RECEIVES`` receives for what the consumer never sees (an invocation that times out
  or crashes also spends a receive: a backlog benchmark lost a job to the DLQ that way after
  two deferrals): once only that many are left, a deferred record is sent again as a fresh
  copy (same group, new deduplication id) and the original is acknowledged. The copy goes to
  the back of its group.
* Any other failure on the last allowed receive marks the ticket FAILED ("could not be started
  after N attempts: ...") before failing, so the message that lands in the DLQ never leaves
  a ticket QUEUED forever. Earlier failures are retried by redelivery. The ticket is marked
  as one that never started: replayed from the DLQ, its message starts it after all.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tradai.workflows.orchestration import AtCapacity, InvalidMessage, job_id_of
from tradai.workflows.status import REPLAYED_FROM_DLQ, JobStatusStore

log = logging.getLogger(__name__)
DEFAULT_MAX_RECEIVE = 5  # the spec's backtest-queue maxReceiveCount, if the queue won't say
SPARE_RECEIVES = 2  # receives a waiting record keeps for invocations that die


@dataclass(frozen=True)
class QueueRecord:
    message_id: str
    body: str
    receipt_handle: str
    receive_count: int
    group_id: str | None
    dedup_id: str | None
    queue_arn: str


class Deferred(RuntimeError):
    """The record waits on the queue (reported as a batch item failure)."""


class BacktestConsumer:
    def __init__(self, sqs: Any, statuses: JobStatusStore,
                 start: Callable[..., dict[str, Any]],
                 backoff_seconds: int) -> None:
        self.sqs = sqs
        self.statuses = statuses
        self.start = start
        self.backoff_seconds = backoff_seconds

    def handle(self, record: QueueRecord) -> dict[str, Any]:
        receives_left = self.max_receive(record.queue_arn) - record.receive_count
        last = receives_left <= 0
        try:
            message = json.loads(record.body)
            if not isinstance(message, dict):
                raise InvalidMessage("message body is not a JSON object")
            return self.start(message=message, replay_detail=replay_detail(record))
        except AtCapacity as exc:
            if receives_left <= SPARE_RECEIVES:
                self._requeue(record)
                return {"outcome": "requeued", "reason": str(exc)}
            self._backoff(record)
            raise Deferred(str(exc)) from exc
        except Exception as exc:
            if last:
                self._give_up(record, exc)
            raise

    def max_receive(self, queue_arn: str) -> int:
        return _max_receive(self.sqs, queue_arn)

    def _queue_url(self, queue_arn: str) -> str:
        return _queue_url(self.sqs, queue_arn)

    def _backoff(self, record: QueueRecord) -> None:
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self._queue_url(record.queue_arn), ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=self.backoff_seconds)
        except Exception as exc:  # the full visibility timeout applies instead: slower, safe
            log.warning("could not shorten visibility of %s: %s", record.message_id, exc)

    def _requeue(self, record: QueueRecord) -> None:
        kwargs: dict[str, Any] = {"QueueUrl": self._queue_url(record.queue_arn),
                                  "MessageBody": record.body}
        if record.group_id:
            kwargs["MessageGroupId"] = record.group_id
            kwargs["MessageDeduplicationId"] = f"requeue-{uuid.uuid4().hex}"
        self.sqs.send_message(**kwargs)

    def _give_up(self, record: QueueRecord, exc: Exception) -> None:
        try:
            job_id = job_id_of(json.loads(record.body))
        except Exception:
            log.error("undeliverable message %s goes to the DLQ: %s", record.message_id, exc)
            return
        reason = (f"could not be started after {record.receive_count} attempts: "
                  f"{type(exc).__name__}: {exc}")
        try:
            self.statuses.start_failed(job_id, reason)
        except Exception:
            log.exception("could not mark job %s FAILED", job_id)


def replay_detail(record: QueueRecord) -> str:
    """Where a message that reopens a job came from: a redriven message is a new message (its
    first receive); a later receive is the same message delivered again."""
    if record.receive_count <= 1:
        return REPLAYED_FROM_DLQ
    return f"message delivered again (receive {record.receive_count})"


@lru_cache(maxsize=16)
def _queue_url(sqs: Any, queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


@lru_cache(maxsize=16)
def _max_receive(sqs: Any, queue_arn: str) -> int:
    try:
        attrs = sqs.get_queue_attributes(QueueUrl=_queue_url(sqs, queue_arn),
                                         AttributeNames=["RedrivePolicy"])["Attributes"]
        return int(json.loads(attrs["RedrivePolicy"])["maxReceiveCount"])
    except Exception:
        return DEFAULT_MAX_RECEIVE
