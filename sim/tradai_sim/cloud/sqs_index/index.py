"""The index of one moto queue; it takes the place of the queue's ``_messages`` list.

moto 5.2.5 keeps a queue's messages in one list and scans it on every call: a FIFO send
compares every message's deduplication id, a receive builds the list of visible messages and
walks it past every message of a group in flight, a delete and a change of visibility look
for the receipt handle in every message. On AWS none of these costs grows with the queue.

``IndexedMessages`` is still that list for every reader (iteration in send order, ``len``,
``append``, ``remove``, ``in``) and keeps beside it what the calls look up:

* lanes: a FIFO queue's message groups (in a standard queue, one lane per message), each a
  deque of its messages in send order with the set of its messages in flight;
* a heap of the lanes that can deliver, by the send order of their first message (moto
  delivers in send order across groups);
* a heap of the times a lane must be looked at again (a visibility timeout or a delay ends);
* message id, receipt handle (every handle a message had: moto deletes with any of them) and
  deduplication id -> message;
* the number of messages in flight and delayed (moto counts them on every GetQueueAttributes
  and four times per SendMessage, through ``Queue.attributes``).

The index holds nothing that can drift from the messages: a lane is re-examined from its
messages' own ``visible_at`` and ``delayed_until`` whenever a call changes them and when its
time comes, and a lane is taken from the heap only after checking it again. Callers hold
``lock`` (the queue's Condition, the one moto's ``add_message`` notifies) around every use.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Message = Any  # moto.sqs.models.Message: id, group_id, visible, delayed, visible_at, ...


class Lane:
    __slots__ = ("inflight", "key", "messages", "queued", "wake_at")

    def __init__(self, key: Any) -> None:
        self.key = key
        self.messages: deque[tuple[int, Message]] = deque()  # (seq, message); removed ones linger
        self.inflight: set[Message] = set()
        self.queued: int | None = None  # the head seq of this lane's entry in the ready heap
        self.wake_at: float | None = None


class IndexedMessages:
    def __init__(self, fifo: bool, lock: Any, now_ms: Callable[[], float]) -> None:
        self.fifo = fifo
        self.lock = lock
        self._now_ms = now_ms
        self._seq: dict[Message, int] = {}  # the messages, in send order
        self._next = itertools.count()
        self._by_id: dict[str, Message] = {}
        self._by_receipt: dict[str, Message] = {}
        self._by_dedup: dict[str, list[Message]] = {}
        self._lanes: dict[Any, Lane] = {}
        self._ready: list[tuple[int, Any]] = []
        self._timers: list[tuple[float, int, Any]] = []
        self._tick = itertools.count()
        self._open: set[Any] = set()  # lanes a receive is reading: examined when it ends
        self._inflight = 0  # sum of the lanes' in-flight sets
        self._delayed: set[Message] = set()
        self._delays: list[tuple[float, int, Message]] = []  # (delayed_until, tick, message)
        self.touched = 0  # messages a receive looked at (tests check it stays flat)

    # -- the list moto and the other parts read ---------------------------------------------
    def __iter__(self) -> Iterator[Message]:
        with self.lock:
            return iter(list(self._seq))

    def __len__(self) -> int:
        return len(self._seq)

    def __bool__(self) -> bool:
        return bool(self._seq)

    def __contains__(self, message: object) -> bool:
        return message in self._seq

    def __getitem__(self, i: Any) -> Any:
        with self.lock:
            return list(self._seq)[i]

    def __repr__(self) -> str:
        return f"IndexedMessages({len(self._seq)} messages, {len(self._lanes)} lanes)"

    def append(self, message: Message) -> None:
        with self.lock:
            seq = next(self._next)
            self._seq[message] = seq
            self._by_id[message.id] = message
            for handle in message.all_receipt_handles:
                if handle:
                    self._by_receipt[handle] = message
            if message.deduplication_id is not None:
                self._by_dedup.setdefault(message.deduplication_id, []).append(message)
            key = self._key(message, seq)
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = Lane(key)
            lane.messages.append((seq, message))
            if message.delayed:
                self._delayed.add(message)
                heapq.heappush(self._delays, (message.delayed_until, next(self._tick), message))
            if not message.visible:
                self._set_inflight(lane, lane.inflight | {message})
            self._examine(lane)

    def remove(self, message: Message) -> None:
        with self.lock:
            seq = self._seq.pop(message, None)
            if seq is None:
                raise ValueError("message not in queue")
            if self._by_id.get(message.id) is message:
                del self._by_id[message.id]
            for handle in message.all_receipt_handles:
                if handle and self._by_receipt.get(handle) is message:
                    del self._by_receipt[handle]
            same = self._by_dedup.get(message.deduplication_id)  # type: ignore[arg-type]
            if same is not None:
                same[:] = [m for m in same if m is not message]
                if not same:
                    del self._by_dedup[message.deduplication_id]
            self._delayed.discard(message)
            lane = self._lanes.get(self._key(message, seq))
            if lane is not None:
                self._set_inflight(lane, lane.inflight - {message})
                self._examine(lane)

    # -- lookups -------------------------------------------------------------------------------
    def by_receipt(self, handle: str) -> Message | None:
        return self._by_receipt.get(handle)

    def by_id(self, message_id: str) -> Message | None:
        return self._by_id.get(message_id)

    def with_dedup_id(self, deduplication_id: str | None) -> list[Message]:
        return list(self._by_dedup.get(deduplication_id, ()))  # type: ignore[arg-type]

    # -- what the calls changed --------------------------------------------------------------
    def received(self, message: Message) -> None:
        """``mark_received`` gave the message a new receipt handle and its visibility."""
        self._by_receipt[message.receipt_handle] = message
        self.visibility_changed(message)

    def visibility_changed(self, message: Message) -> None:
        seq = self._seq.get(message)
        lane = self._lanes.get(self._key(message, seq)) if seq is not None else None
        if lane is None:
            return
        if message.visible:
            self._set_inflight(lane, lane.inflight - {message})
        else:
            self._set_inflight(lane, lane.inflight | {message})
        self._examine(lane)

    def refresh(self) -> None:
        """Look again at every lane whose time has come (a visibility timeout or delay ended)."""
        now = self._now_ms()
        while self._timers and self._timers[0][0] <= now:
            at, _, key = heapq.heappop(self._timers)
            lane = self._lanes.get(key)
            if lane is None:
                continue
            if lane.wake_at == at:
                lane.wake_at = None
            self._examine(lane)

    def counts(self) -> tuple[int, int, int]:
        """(visible, delayed, in flight): moto's ApproximateNumberOfMessages, ...Delayed and
        ...NotVisible, as of now (to the millisecond)."""
        self.refresh()
        now = self._now_ms()
        while self._delays and self._delays[0][0] <= now:
            self._delayed.discard(heapq.heappop(self._delays)[2])
        delayed = len(self._delayed)
        return len(self._seq) - self._inflight - delayed, delayed, self._inflight

    def first(self, accept: Callable[[Message], bool]) -> Message | None:
        """The earliest-sent message ``accept`` takes; it reads from the front, so it is cheap
        when one near the front qualifies (the metrics' oldest message)."""
        with self.lock:
            return next((m for m in self._seq if accept(m)), None)

    def seconds_to_next_change(self) -> float | None:
        if not self._timers:
            return None
        return max(0.0, (self._timers[0][0] - self._now_ms()) / 1000)

    @contextmanager
    def receiving(self) -> Iterator[Iterator[Message]]:
        """The messages a receive may deliver, in moto's order: send order across lanes that
        can deliver; in a FIFO group opened by this receive, its next messages too (moto
        delivers several messages of a group in one call). The caller may ``remove``
        messages meanwhile; the lanes it read are examined when it ends."""
        opened: dict[Any, Lane] = {}
        try:
            yield self._candidates(opened)
        finally:
            self._open.clear()
            for lane in opened.values():
                self._examine(lane)

    # -- internals -----------------------------------------------------------------------------
    def _key(self, message: Message, seq: int) -> Any:
        return message.group_id if self.fifo and message.group_id is not None else seq

    def _candidates(self, opened: dict[Any, Lane]) -> Iterator[Message]:
        within: list[tuple[int, int, Any]] = []  # (seq, position, lane key) of opened groups
        while True:
            ready = self._peek_ready()
            if within and (ready is None or within[0][0] < ready[0]):
                _, pos, key = heapq.heappop(within)
                lane = opened[key]
                if not self._live(lane.messages[pos]):
                    continue
            elif ready is not None:
                lane = ready[1]
                heapq.heappop(self._ready)
                lane.queued = None
                opened[lane.key] = lane
                self._open.add(lane.key)
                pos = 0
            else:
                return
            message = lane.messages[pos][1]
            self.touched += 1
            yield message
            if not self.fifo:
                continue
            pos += 1
            while pos < len(lane.messages) and not self._live(lane.messages[pos]):
                pos += 1
            if pos < len(lane.messages):
                nxt_seq, nxt = lane.messages[pos]
                if nxt.visible and not nxt.delayed:  # a delayed message holds its group back
                    heapq.heappush(within, (nxt_seq, pos, lane.key))

    def _peek_ready(self) -> tuple[int, Lane] | None:
        while self._ready:
            seq, key = self._ready[0]
            lane = self._lanes.get(key)
            if lane is None or lane.queued != seq or key in self._open:
                heapq.heappop(self._ready)
                continue
            self._drop_removed(lane)
            head = lane.messages[0] if lane.messages else None
            self.touched += 1
            if (lane.inflight or head is None or head[0] != seq or not head[1].visible
                    or head[1].delayed):
                heapq.heappop(self._ready)
                lane.queued = None
                self._examine(lane)
                continue
            return seq, lane
        return None

    def _live(self, entry: tuple[int, Message]) -> bool:
        return self._seq.get(entry[1]) == entry[0]

    def _drop_removed(self, lane: Lane) -> None:
        while lane.messages and not self._live(lane.messages[0]):
            lane.messages.popleft()

    def _examine(self, lane: Lane) -> None:
        """Put the lane where its messages' state says: ready, waiting for a time, or gone."""
        if lane.key in self._open:
            return  # a receive is reading it; examined when the receive ends
        self._drop_removed(lane)
        if lane.inflight:
            self._set_inflight(lane, {m for m in lane.inflight
                                      if m in self._seq and not m.visible})
        if not lane.messages and not lane.inflight:
            del self._lanes[lane.key]  # its heap entries are stale now, skipped when met
            return
        if lane.inflight:  # visible once now > visible_at
            self._wake(lane, min(m.visible_at for m in lane.inflight) + 1)
            return
        seq, head = lane.messages[0]
        if head.delayed:
            self._wake(lane, head.delayed_until)
            return
        if not head.visible:  # made invisible without a receive: in flight all the same
            self._set_inflight(lane, {head})
            self._wake(lane, head.visible_at + 1)
            return
        if lane.queued != seq:
            heapq.heappush(self._ready, (seq, lane.key))
            lane.queued = seq
            self.lock.notify_all()  # a long poll may be waiting for this lane

    def _set_inflight(self, lane: Lane, inflight: set[Message]) -> None:
        self._inflight += len(inflight) - len(lane.inflight)
        lane.inflight = inflight

    def _wake(self, lane: Lane, at: float) -> None:
        if lane.wake_at != at:
            heapq.heappush(self._timers, (at, next(self._tick), lane.key))
            lane.wake_at = at
