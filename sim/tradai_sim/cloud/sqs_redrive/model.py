"""A message move task as SQS reports it, and the rules of its life.

API reference, ListMessageMoveTasksResultEntry and CancelMessageMoveTask
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListMessageMoveTasks.html):
status RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED; only a RUNNING task can be
cancelled, and cancelling keeps what was moved; ``TaskHandle`` is listed only while RUNNING,
``DestinationArn`` and ``MaxNumberOfMessagesPerSecond`` only when the request gave them,
``FailureReason`` only when FAILED. The rate is at most 500 messages per second
(API_StartMessageMoveTask); without one "the system will optimize the rate": here the maximum.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass

RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED = (
    "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED")
ACTIVE = (RUNNING, CANCELLING)
MIN_RATE, MAX_RATE = 1, 500  # messages per second, API_StartMessageMoveTask


class NotCancellable(ValueError):
    """The task is not RUNNING."""


def encode_handle(task_id: str, source_arn: str) -> str:
    """The handle names the task and its source (the shape AWS's handles decode to)."""
    raw = json.dumps({"taskId": task_id, "sourceArn": source_arn}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_handle(handle: str) -> tuple[str, str] | None:
    """(task id, source ARN), or None for a handle this service never issued."""
    try:
        data = json.loads(base64.b64decode(handle.encode(), validate=True))
        task_id, source = data["taskId"], data["sourceArn"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        return None
    if not isinstance(task_id, str) or not isinstance(source, str):
        return None
    return task_id, source


@dataclass
class MoveTask:
    task_id: str
    source_arn: str
    destination_arn: str | None  # None: each message back to the queue it came from
    rate: int | None  # as requested; None lets the service choose
    started: float  # simulated epoch seconds
    to_move: int  # the source's visible messages when the task started
    status: str = RUNNING
    moved: int = 0
    failure: str | None = None

    @property
    def handle(self) -> str:
        return encode_handle(self.task_id, self.source_arn)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def effective_rate(self) -> int:
        return self.rate or MAX_RATE

    def due_at(self, n: int) -> float:
        """The simulated instant from which message ``n`` (0-based) may move: the first at
        once, then one every 1/rate seconds."""
        return self.started + n / self.effective_rate

    def allowed_by(self, now: float) -> int:
        """How many messages the rate allows to have moved by ``now``."""
        if now < self.started:
            return 0
        # The epsilon absorbs float error: at due_at(n) message n is allowed, not a hair later.
        slots = math.floor((now - self.started) * self.effective_rate + 1e-6) + 1
        return min(self.to_move, slots)

    # -- transitions ------------------------------------------------------------------------
    def request_cancel(self) -> None:
        if self.status != RUNNING:
            raise NotCancellable(f"the task is {self.status}; only a RUNNING task can be "
                                 f"cancelled")
        self.status = CANCELLING

    def record_moved(self) -> None:
        if self.active:
            self.moved += 1

    def finish(self) -> None:
        """The mover stopped: a cancelled task is CANCELLED, a running one COMPLETED."""
        if self.status == CANCELLING:
            self.status = CANCELLED
        elif self.status == RUNNING:
            self.status = COMPLETED

    def fail(self, reason: str) -> None:
        if self.active:
            self.status, self.failure = FAILED, reason

    def as_entry(self) -> dict[str, object]:
        """A ListMessageMoveTasksResultEntry."""
        entry: dict[str, object] = {
            "Status": self.status, "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": int(self.started * 1000)}
        if self.status == RUNNING:
            entry["TaskHandle"] = self.handle
        if self.destination_arn is not None:
            entry["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.status == FAILED and self.failure:
            entry["FailureReason"] = self.failure
        return entry
