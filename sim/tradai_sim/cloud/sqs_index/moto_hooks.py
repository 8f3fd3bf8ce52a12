"""The moto side of the SQS index (patched in ``moto_patches.PATCHES``).

Each hook does what moto 5.2.5's method does, with the queue's ``IndexedMessages`` in place of
a scan of its message list:

* ``Queue.add_message``: moto's duplicate check against the messages still queued (which the
  sqs_fifo hook steps around; it is kept so the unpatched order of wraps still holds) looks
  at the messages with the same deduplication id only; then the append and moto's in-line
  event-source delivery.
* ``SQSBackend.receive_message``: the lanes that can deliver, in send order. Unchanged from
  moto: a FIFO group with a message in flight delivers nothing, a receive may take several
  messages of one group, in order; a message received maxReceiveCount times goes to the
  dead-letter queue when met; long polling returns as soon as a message can be delivered.
  Two moto faults are not reproduced, both as SQS documents: a group whose in-flight batch
  became visible again restarts from its first message (moto could skip to the second), and
  a message past the queue's retention period is deleted ("Amazon SQS automatically deletes
  messages left in a queue longer than the retention period configured for the queue",
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html;
  moto left it in flight, undelivered, and stopped the receive); "you can't receive messages
  from the same message group ID in subsequent requests until the currently received
  messages are deleted or they become visible again"
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html).
* ``Queue.delete_message`` and ``SQSBackend.change_message_visibility``: the message by its
  receipt handle (any handle it was given, as moto accepts).

``TRADAI_SIM_SQS_INDEX=off`` in the cloud process's environment leaves moto's scans in place
(``benchmarks/bench_queue_depth.py --unpatched`` measures them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from copy import deepcopy
from typing import Any

from tradai_sim.cloud.sqs_index.index import IndexedMessages

ENABLED = os.environ.get("TRADAI_SIM_SQS_INDEX", "on").lower() not in ("off", "0", "false")
MAX_WAIT_STEP = 1.0  # seconds a long poll sleeps between checks at most, as moto's loop


def _now_ms() -> float:
    from moto.sqs import models  # the clock moto's Message.visible reads

    return models.unix_time_millis()


def index_of(queue: Any) -> IndexedMessages:
    """The queue's index, built from its list the first time (or after PurgeQueue, which
    gives the queue a new empty list)."""
    messages = queue._messages
    if isinstance(messages, IndexedMessages):
        return messages
    with queue._messages_lock:
        messages = queue._messages
        if not isinstance(messages, IndexedMessages):
            index = IndexedMessages(queue.fifo_queue, queue._messages_lock, _now_ms)
            for message in messages:
                index.append(message)
            queue._messages = messages = index
    return messages


def queue_add_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_message(self: Any, message: Any) -> None:
        if not ENABLED:
            return original(self, message)
        from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS

        index = index_of(self)
        if self.fifo_queue and (self.content_based_deduplication
                                or message.deduplication_id):
            for m in index.with_dedup_id(message.deduplication_id):
                if ((message.sent_timestamp - m.sent_timestamp) / 1000
                        < DEDUPLICATION_TIME_IN_SECONDS):
                    return None
        with self._messages_lock:
            index.append(message)
            self._messages_lock.notify_all()
        if self.lambda_event_source_mappings:
            _deliver_in_line(self)
        return None

    return add_message


def _deliver_in_line(queue: Any) -> None:
    """The rest of moto's ``add_message``: its own synchronous Lambda delivery. The local
    cloud removes every mapping from the queues (its pollers deliver), so this runs only for
    a queue a test gives a mapping by hand."""
    from moto.awslambda.utils import get_backend
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[queue.account_id][queue.region]
    for arn, esm in list(queue.lambda_event_source_mappings.items()):
        if not esm.enabled:
            continue
        messages = backend.receive_message(queue.name, esm.batch_size,
                                           queue.receive_message_wait_time_seconds,
                                           queue.visibility_timeout)
        ok = get_backend(queue.account_id, queue.region).send_sqs_batch(arn, messages,
                                                                        queue.queue_arn)
        for m in messages:
            if ok:
                backend.delete_message(queue.name, m.receipt_handle)
            else:
                backend.change_message_visibility(queue.name, m.receipt_handle,
                                                  visibility_timeout=0)


def receive_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int,
                        message_attribute_names: list[str] | None = None) -> list[Any]:
        if not ENABLED:
            return original(self, queue_name, count, wait_seconds_timeout,
                            visibility_timeout, message_attribute_names)
        from moto.sqs.models import unix_time

        queue = self.get_queue(queue_name)
        index = index_of(queue)
        polling_end = unix_time() + wait_seconds_timeout
        while True:
            with queue._messages_lock:
                result, to_dlq = _take(queue, index, count, visibility_timeout,
                                       message_attribute_names or [])
                remaining = polling_end - unix_time()
                if not result and not to_dlq and wait_seconds_timeout and remaining > 0:
                    step = index.seconds_to_next_change()
                    queue._messages_lock.wait(timeout=min(
                        remaining, MAX_WAIT_STEP, MAX_WAIT_STEP if step is None else step))
                    continue
            for message in to_dlq:  # outside this queue's lock: the DLQ takes its own
                queue.dead_letter_queue.add_message(message)
            if result or not wait_seconds_timeout or unix_time() > polling_end:
                return result

    return receive_message


def _take(queue: Any, index: IndexedMessages, count: int, visibility_timeout: int,
          attribute_names: list[str]) -> tuple[list[Any], list[Any]]:
    from moto.sqs.models import _filter_message_attributes, unix_time

    index.refresh()
    policy = queue.redrive_policy if queue.dead_letter_queue is not None else None
    result: list[Any] = []
    to_dlq: list[Any] = []
    with index.receiving() as candidates:
        for message in candidates:
            queue.pending_messages.discard(message)
            if policy and message.approximate_receive_count >= policy["maxReceiveCount"]:
                to_dlq.append(message)
                continue
            if queue.message_retention_period + message.sent_timestamp / 1000 <= unix_time():
                index.remove(message)
                continue
            queue.pending_messages.add(message)
            message.mark_received(visibility_timeout=visibility_timeout)
            index.received(message)
            copy = deepcopy(message)  # as moto: the answer's attributes are filtered
            _filter_message_attributes(copy, attribute_names)
            result.append(copy)
            if len(result) >= count:
                break
        for message in to_dlq:
            index.remove(message)
    return result, to_dlq


def queue_delete_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_message(self: Any, receipt_handle: str) -> None:
        if not ENABLED:
            return original(self, receipt_handle)
        from moto.sqs.exceptions import ReceiptHandleIsInvalid

        if receipt_handle in self.deleted_messages:
            return None  # already deleted: SQS answers success again
        index = index_of(self)
        with self._messages_lock:
            message = index.by_receipt(receipt_handle)
            if message is None:
                raise ReceiptHandleIsInvalid()
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)
            index.remove(message)
        return None

    return delete_message


CHANGED_WITH = "tradai_visibility_changed_with"  # the receipt handle of the last change


def visibility_changed_since_receive(queue: Any, receipt_handle: str) -> bool:
    """Whether a consumer changed this receive's visibility itself (ChangeMessageVisibility
    with its receipt handle): the event source then leaves it as the function set it."""
    with queue._messages_lock:
        message = _by_receipt(queue, receipt_handle)
        return (message is not None and message.receipt_handle == receipt_handle
                and getattr(message, CHANGED_WITH, None) == receipt_handle)


def _by_receipt(queue: Any, receipt_handle: str) -> Any:
    """The message any of whose receipt handles this is (the index's lookup, or moto's scan
    with the index off); the caller holds the queue's lock."""
    if ENABLED:
        return index_of(queue).by_receipt(receipt_handle)
    return next((m for m in queue._messages if m.had_receipt_handle(receipt_handle)), None)


def change_message_visibility(original: Callable[..., Any]) -> Callable[..., Any]:
    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str,
                                  visibility_timeout: int) -> None:
        if not ENABLED:
            original(self, queue_name, receipt_handle, visibility_timeout)
            _record_change(self.get_queue(queue_name), receipt_handle)
            return None
        from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
        from moto.sqs.models import unix_time_millis

        queue = self.get_queue(queue_name)
        index = index_of(queue)
        with queue._messages_lock:
            message = index.by_receipt(receipt_handle)
            if message is None:
                raise ReceiptHandleIsInvalid
            given = unix_time_millis() + int(visibility_timeout) * 1000
            if given - message.sent_timestamp > 43200 * 1000:  # moto's check, verbatim
                raise InvalidParameterValue(
                    f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. "
                    "Reason: Total VisibilityTimeout for the message is beyond the limit "
                    "[43200 seconds]")
            message.change_visibility(visibility_timeout)
            setattr(message, CHANGED_WITH, receipt_handle)
            if message.visible:
                queue.pending_messages.discard(message)
            index.visibility_changed(message)
        return None

    return change_message_visibility


def _record_change(queue: Any, receipt_handle: str) -> None:
    with queue._messages_lock:
        message = _by_receipt(queue, receipt_handle)
        if message is not None:
            setattr(message, CHANGED_WITH, receipt_handle)


class _Property(property):
    """A property that can carry the patch bookkeeping (``__tradai_original__``)."""


def _count_property(original: property, which: int) -> property:
    def count(self: Any) -> int:
        if not ENABLED:
            return int(original.fget(self))  # type: ignore[misc]
        index = index_of(self)
        with self._messages_lock:
            return index.counts()[which]

    return _Property(count)


def approximate_number_of_messages(original: property) -> property:
    return _count_property(original, 0)


def approximate_number_of_messages_delayed(original: property) -> property:
    return _count_property(original, 1)


def approximate_number_of_messages_not_visible(original: property) -> property:
    return _count_property(original, 2)
