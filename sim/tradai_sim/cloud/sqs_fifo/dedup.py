"""The deduplication interval of one FIFO queue, as SQS keeps it.

"If a message with a particular MessageDeduplicationId is sent successfully, any messages sent
with the same MessageDeduplicationId are accepted successfully but aren't delivered during the
5-minute deduplication interval", and "Amazon SQS continues tracking the deduplication ID even
after the message has been received and deleted"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html).
The interval counts from the accepted send, in simulated seconds: it is pure waiting.

The scope is the queue, or the message group when the queue's DeduplicationScope is
``messageGroup`` (high-throughput FIFO).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

INTERVAL_SECONDS = 300.0

DedupKey = tuple[str | None, str]  # (message group when scoped per group, deduplication id)


@dataclass(frozen=True)
class Accepted:
    """The send that opened an interval: a duplicate's send answers with its message id."""

    message_id: str
    sequence_number: str | None
    at: float


class DedupWindow:
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._seen: dict[DedupKey, Accepted] = {}
        self._order: deque[tuple[DedupKey, Accepted]] = deque()  # in admission order: forgetting
        # pops expired ids from the front instead of scanning every remembered id per send
        self._lock = threading.Lock()

    def admit(self, key: DedupKey, message_id: str, sequence_number: str | None,
              now: float) -> Accepted | None:
        """None when the message is new (it is remembered from ``now``); else the send whose
        interval it falls in, and the message must not be delivered."""
        with self._lock:
            self._forget_before(now - self.interval)
            first = self._seen.get(key)
            if first is not None and first.at > now - self.interval:
                return first
            accepted = self._seen[key] = Accepted(message_id, sequence_number, now)
            self._order.append((key, accepted))
            return None

    def remembered(self, now: float) -> int:
        with self._lock:
            self._forget_before(now - self.interval)
            return len(self._seen)

    def _forget_before(self, cutoff: float) -> None:
        # Admission times only grow with the clock; an id left behind an older one (a clock
        # stepped back) is forgotten late, and ``admit`` checks its age itself.
        while self._order and self._order[0][1].at <= cutoff:
            key, accepted = self._order.popleft()
            if self._seen.get(key) is accepted:
                del self._seen[key]


def key_for(deduplication_id: str, group_id: str | None, scope: str | None) -> DedupKey:
    return (group_id if scope == "messageGroup" else None, deduplication_id)
