"""The queues a move task reads and writes: moto's SQS backend, in-process.

Messages move as SQS moves them: received from the dead-letter queue (invisible meanwhile),
sent to the destination as a new message (new id, receive count 0, retention from now: "All
redriven messages are considered new messages with a new messageID and enqueueTime",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html),
then deleted from the dead-letter queue. A FIFO message keeps its group and its deduplication
id, which in a FIFO DLQ is the original message's id (see ``moto_hooks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

HOLD_SECONDS = 30  # a taken message stays invisible this long (wall) if the mover dies


class QueueGone(LookupError):
    """The queue no longer exists (AWS's FailureReason: AWS.SimpleQueueService.NonExistentQueue)."""

    reason = "AWS.SimpleQueueService.NonExistentQueue"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    receipt: str
    group_id: str | None = None
    dedup_id: str | None = None
    origin_arn: str | None = None  # the queue whose redrive policy moved it here
    attributes: dict[str, Any] = field(default_factory=dict)  # message attributes


class Queues(Protocol):
    def exists(self, arn: str) -> bool: ...

    def is_fifo(self, arn: str) -> bool: ...

    def dead_letter_sources(self, arn: str) -> list[str]: ...

    def visible(self, arn: str) -> int: ...

    def take(self, arn: str, count: int) -> list[DeadLetter]: ...

    def put(self, arn: str, message: DeadLetter) -> None: ...

    def remove(self, arn: str, receipt: str) -> None: ...

    def release(self, arn: str, receipt: str) -> None: ...


def split_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, queue name) of an SQS queue ARN."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[5]:
        return None
    return parts[3], parts[4], parts[5]


class MotoQueues:
    """``Queues`` on moto's backends (the same methods its SQS API calls)."""

    def _backend(self, arn: str) -> tuple[Any, str] | None:
        from moto.sqs.models import sqs_backends

        where = split_arn(arn)
        if where is None:
            return None
        region, account, name = where
        try:
            return sqs_backends[account][region], name
        except (KeyError, ValueError):
            return None

    def _queue(self, arn: str) -> Any | None:
        found = self._backend(arn)
        if found is None:
            return None
        backend, name = found
        queue = backend.queues.get(name)
        return queue if queue is not None and queue.queue_arn == arn else None

    def _require(self, arn: str) -> tuple[Any, str]:
        found = self._backend(arn)
        if found is None or self._queue(arn) is None:
            raise QueueGone(arn)
        return found

    def exists(self, arn: str) -> bool:
        return self._queue(arn) is not None

    def is_fifo(self, arn: str) -> bool:
        queue = self._queue(arn)
        return bool(queue is not None and queue.fifo_queue)

    def dead_letter_sources(self, arn: str) -> list[str]:
        found = self._backend(arn)
        if found is None:
            return []
        backend, _ = found
        return sorted(q.queue_arn for q in list(backend.queues.values())
                      if q.dead_letter_queue is not None and q.dead_letter_queue.queue_arn == arn)

    def visible(self, arn: str) -> int:
        queue = self._queue(arn)
        return int(queue.approximate_number_of_messages) if queue is not None else 0

    def take(self, arn: str, count: int) -> list[DeadLetter]:
        backend, name = self._require(arn)
        queue = backend.queues[name]
        # moto forgets a received message's in-flight mark only when a receive meets it, and
        # then skips its FIFO group's other expired messages: clear the expired marks first,
        # so the oldest message moves first ("in the order they are received", developer
        # guide).
        for message in list(queue.pending_messages):
            if message.visible:
                queue.pending_messages.discard(message)
        got = backend.receive_message(name, count, 0, HOLD_SECONDS,
                                      message_attribute_names=["All"])
        return [DeadLetter(message_id=m.id, body=m.body, receipt=str(m.receipt_handle),
                           group_id=m.group_id, dedup_id=m.deduplication_id,
                           origin_arn=getattr(m, "tradai_dlq_source_arn", None),
                           attributes=dict(m.message_attributes or {})) for m in got]

    def put(self, arn: str, message: DeadLetter) -> None:
        backend, name = self._require(arn)
        fifo = backend.queues[name].fifo_queue
        backend.send_message(
            name, message.body, message_attributes=message.attributes or None,
            group_id=message.group_id if fifo else None,
            deduplication_id=(message.dedup_id or message.message_id) if fifo else None)

    def remove(self, arn: str, receipt: str) -> None:
        backend, name = self._require(arn)
        backend.delete_message(name, receipt)

    def release(self, arn: str, receipt: str) -> None:
        found = self._backend(arn)
        if found is None or self._queue(arn) is None:
            return
        backend, name = found
        from moto.sqs.exceptions import SQSException

        try:
            backend.change_message_visibility(name, receipt, 0)
        except SQSException:  # deleted meanwhile: nothing to give back
            return
