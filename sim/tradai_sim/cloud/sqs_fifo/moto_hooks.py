"""The moto side of FIFO deduplication (patched in ``moto_patches.PATCHES``).

moto 5.2.5 deduplicates a FIFO send only against the messages still in the queue, with wall
time: a message received and deleted is forgotten at once, and under a dilated clock a
duplicate is dropped for 300 wall seconds (100 simulated minutes at scale 20). Here each
queue keeps a ``DedupWindow`` on the simulated clock instead.

``Queue.add_message`` is wrapped innermost (listed before the alarms and redrive wraps), so a
message moved into a FIFO dead-letter queue arrives with the deduplication id the redrive
hook gave it (its message id) and is never taken for a duplicate.

A duplicate is accepted but not delivered; the send answers with the first message's
MessageId and SequenceNumber (AWS's documentation does not say which id a duplicate's send
returns; SQS answers with the original's, so a producer that records the id records the
message that is actually in the queue).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tradai.clock import Clock
from tradai_sim.cloud.sqs_fifo.dedup import DedupWindow, key_for

_clock: Clock | None = None
WINDOW_ATTRIBUTE = "tradai_dedup_window"


def install_clock(clock: Clock | None) -> None:
    global _clock
    _clock = clock


def now() -> float:
    return _clock.now() if _clock is not None else time.time()


def window_of(queue: Any) -> DedupWindow:
    window = getattr(queue, WINDOW_ATTRIBUTE, None)
    if window is None:  # created on first use; add_message runs under moto's request threads
        window = queue.__dict__.setdefault(WINDOW_ATTRIBUTE, DedupWindow())
    return window


def queue_add_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_message(self: Any, message: Any) -> None:
        if not self.fifo_queue or not message.deduplication_id:
            return original(self, message)
        key = key_for(message.deduplication_id, message.group_id,
                      self.attributes.get("DeduplicationScope"))
        first = window_of(self).admit(key, message.id, message.sequence_number, now())
        if first is not None:  # accepted, not delivered
            message.id, message.sequence_number = first.message_id, first.sequence_number
            return None
        if _moto_would_drop(self, message):
            # moto's own check would still drop it (the first message is in the queue and
            # younger than 300 wall s, or in another group of a per-group scope): queue it as
            # moto would. moto's in-line Lambda delivery, the rest of the original, is off:
            # lambda_runtime removes every mapping from the queues (pollers deliver).
            with self._messages_lock:
                self._messages.append(message)
                self._messages_lock.notify_all()
            return None
        return original(self, message)

    return add_message


def _moto_would_drop(queue: Any, message: Any) -> bool:
    """moto 5.2.5's duplicate test in ``Queue.add_message``, to step around it."""
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS

    indexed = getattr(queue._messages, "with_dedup_id", None)  # sqs_index: no scan
    same = (indexed(message.deduplication_id) if indexed is not None else
            [m for m in list(queue._messages) if m.deduplication_id == message.deduplication_id])
    return any((message.sent_timestamp - m.sent_timestamp) / 1000
               < DEDUPLICATION_TIME_IN_SECONDS for m in same)
