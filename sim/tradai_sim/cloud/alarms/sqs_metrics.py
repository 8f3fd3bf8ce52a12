"""The AWS/SQS metrics the local cloud derives every minute from moto's queues.

From "Available CloudWatch metrics for Amazon SQS" (https://docs.aws.amazon.com/
AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html), per
queue (dimension ``QueueName``):

* ``ApproximateNumberOfMessagesVisible``: messages available for retrieval (neither in flight
  nor delayed). A FIFO message waiting behind an in-flight message of its group is counted:
  it is not in flight. Reported while the queue is active; here always.
* ``ApproximateNumberOfMessagesNotVisible``: in flight (received, neither deleted nor past
  the visibility timeout). Reported only when there are some.
* ``ApproximateAgeOfOldestMessage``: seconds (simulated) since the oldest unprocessed message
  arrived in *this* queue: a message moved to a DLQ counts from its move. In-flight messages
  count. In a standard queue a message received three times or more without being deleted is
  moved to the back and skipped; a FIFO queue keeps its order. Reported only when the queue
  holds a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tradai.clock import Clock
from tradai_sim.cloud.alarms.datum import Datum
from tradai_sim.cloud.sqs_index.index import IndexedMessages

NAMESPACE = "AWS/SQS"
POISON_RECEIVES = 3


@dataclass(frozen=True)
class MessageView:
    arrived: float  # simulated epoch seconds it arrived in this queue
    in_flight: bool
    delayed: bool
    receives: int  # receives since it arrived in this queue


def queue_metrics(queue_name: str, fifo: bool, messages: Iterable[MessageView],
                  at: float) -> list[Datum]:
    messages = list(messages)
    oldest = min((m.arrived for m in messages if unprocessed(m.delayed, m.receives, fifo)),
                 default=None)
    return counted_metrics(queue_name, sum(not m.in_flight and not m.delayed for m in messages),
                           sum(m.in_flight for m in messages), oldest, at)


def unprocessed(delayed: bool, receives: int, fifo: bool) -> bool:
    """Counts for the oldest message's age: not delayed, and in a standard queue not yet
    skipped as a message received three times or more."""
    return not delayed and (fifo or receives < POISON_RECEIVES)


def counted_metrics(queue_name: str, visible: int, in_flight: int, oldest: float | None,
                    at: float) -> list[Datum]:
    """The datums of one queue from its counts and its oldest unprocessed arrival."""
    dims = (("QueueName", queue_name),)

    def datum(name: str, value: float, unit: str = "Count") -> Datum:
        return Datum(NAMESPACE, name, float(value), dims, at, unit)

    out = [datum("ApproximateNumberOfMessagesVisible", visible)]
    if in_flight:
        out.append(datum("ApproximateNumberOfMessagesNotVisible", in_flight))
    if oldest is not None:
        out.append(datum("ApproximateAgeOfOldestMessage", max(0.0, at - oldest), "Seconds"))
    return out


def sim_time_of_wall(clock: Clock, wall: float) -> float:
    return clock.origin + (wall - clock.origin) * clock.scale


def message_views(queue: Any, clock: Clock) -> list[MessageView]:
    """moto's messages, read in-process (moto's own clocks are wall milliseconds)."""
    return [MessageView(arrived=arrival(m, clock), in_flight=not m.visible, delayed=m.delayed,
                        receives=receives(m)) for m in list(queue._messages)]


def arrival(message: Any, clock: Clock) -> float:
    arrived = getattr(message, "tradai_arrived", None)
    if arrived is None:  # sent before the arrival stamp was installed
        arrived = sim_time_of_wall(clock, (message.sent_timestamp or 0) / 1000)
    return float(arrived)


def indexed_metrics(queue: Any, messages: IndexedMessages, clock: Clock,
                    at: float) -> list[Datum]:
    """What ``queue_metrics`` computes, from the SQS index's counts and the front of the queue
    (messages arrive in send order): a sample no longer reads every message, which at 10,000
    waiting held the emulator for a third of a second each simulated minute."""
    fifo = bool(queue.fifo_queue)
    visible, _, in_flight = messages.counts()
    first = messages.first(lambda m: unprocessed(m.delayed, receives(m), fifo))
    return counted_metrics(queue.name, visible, in_flight,
                           None if first is None else arrival(first, clock), at)


def receives(message: Any) -> int:
    """Receives since it arrived in this queue (a DLQ counts from the move)."""
    return int(message.approximate_receive_count - getattr(message, "tradai_receives_before", 0))


def sample(sqs_backend: Any, clock: Clock, at: float) -> list[Datum]:
    out: list[Datum] = []
    for queue in list(sqs_backend.queues.values()):
        messages = queue._messages
        if isinstance(messages, IndexedMessages):
            with messages.lock:
                out.extend(indexed_metrics(queue, messages, clock, at))
        else:  # TRADAI_SIM_SQS_INDEX=off: moto's list, read whole
            out.extend(queue_metrics(queue.name, bool(queue.fifo_queue),
                                     message_views(queue, clock), at))
    return out
