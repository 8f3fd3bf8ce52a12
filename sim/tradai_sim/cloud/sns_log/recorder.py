"""The published-message log: every message an SNS topic accepted, with simulated and wall
time, newest last, bounded so a long run cannot grow it without end."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

CAPACITY = 10_000


@dataclass(frozen=True)
class Published:
    seq: int
    topic_arn: str
    topic: str
    subject: str | None
    message: str
    message_id: str
    simulated_time: float
    wall_time: float

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["simulated_iso"] = datetime.fromtimestamp(self.simulated_time, UTC).isoformat(
            timespec="seconds").replace("+00:00", "Z")
        return out


class PublishedLog:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._items: deque[Published] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.last_seq = 0

    def record(self, topic_arn: str, subject: str | None, message: str, message_id: str,
               simulated_time: float, wall_time: float) -> Published:
        with self._lock:
            item = Published(next(self._seq), topic_arn, topic_arn.rsplit(":", 1)[-1], subject,
                             message, message_id, simulated_time, wall_time)
            self._items.append(item)
            self.last_seq = item.seq
            return item

    def query(self, topic: str | None = None, since: float | None = None,
              after: int | None = None) -> list[Published]:
        return self.page(topic, since, after)[0]

    def page(self, topic: str | None = None, since: float | None = None,
             after: int | None = None) -> tuple[list[Published], int]:
        """The matching messages and the newest sequence number of any topic, taken together
        (a follower continues after it and misses nothing). ``topic`` matches a topic's name,
        ARN or the end of its name after a hyphen (the logical name: ``alerts``); ``since`` is
        simulated epoch seconds; ``after`` a sequence number."""
        with self._lock:
            items, last = list(self._items), self.last_seq
        return [i for i in items
                if (topic is None or topic in (i.topic, i.topic_arn)
                    or i.topic.endswith("-" + topic))
                and (since is None or i.simulated_time >= since)
                and (after is None or i.seq > after)], last
