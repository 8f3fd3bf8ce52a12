"""StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask: their parameters
checked as the SQS API reference describes them, answered in its response shapes.

* Start: the source must exist (ResourceNotFoundException) and be the dead-letter queue of
  some queue (InvalidParameterValue); a given destination must exist and be of the source's
  type, FIFO or standard; the rate is 1 to 500 messages per second; one active task per
  source queue (InvalidParameterValue). ApproximateNumberOfMessagesToMove is the source's
  visible messages at the start.
* List: the most recent tasks of a source, newest first; MaxResults 1 (default) to 10.
* Cancel: by TaskHandle; only a RUNNING task (UnsupportedOperation otherwise); answers the
  number moved so far.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tradai_sim.cloud.sqs_redrive import errors
from tradai_sim.cloud.sqs_redrive.model import (
    MAX_RATE,
    MIN_RATE,
    MoveTask,
    NotCancellable,
    decode_handle,
)
from tradai_sim.cloud.sqs_redrive.queues import Queues
from tradai_sim.cloud.sqs_redrive.runner import SimClock
from tradai_sim.cloud.sqs_redrive.tasks import MoveTasks

OPERATIONS = ("StartMessageMoveTask", "ListMessageMoveTasks", "CancelMessageMoveTask")
MAX_LISTED = 10


class MoveTaskService:
    def __init__(self, queues: Queues, clock: SimClock, tasks: MoveTasks,
                 launch: Callable[[MoveTask], None], wake: Callable[[str], None],
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.queues = queues
        self.clock = clock
        self.tasks = tasks
        self.launch = launch
        self.wake = wake
        self.new_id = new_id

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "StartMessageMoveTask":
            return self.start(params.get("SourceArn"), params.get("DestinationArn"),
                              params.get("MaxNumberOfMessagesPerSecond"))
        if operation == "ListMessageMoveTasks":
            return self.list(params.get("SourceArn"), params.get("MaxResults"))
        if operation == "CancelMessageMoveTask":
            return self.cancel(params.get("TaskHandle"))
        raise errors.unsupported(f"{operation} is not a message move task operation")

    def start(self, source: Any, destination: Any = None, rate: Any = None) -> dict[str, Any]:
        source = _required("SourceArn", source)
        if rate is not None:
            rate = _integer("MaxNumberOfMessagesPerSecond", rate, MIN_RATE, MAX_RATE)
        if not self.queues.exists(source):
            raise errors.not_found("SourceArn")
        if not self.queues.dead_letter_sources(source):
            raise errors.invalid("Source queue must be configured as a Dead Letter Queue.")
        if destination is not None and destination != "":
            if not self.queues.exists(destination):
                raise errors.not_found("DestinationArn")
            if self.queues.is_fifo(destination) != self.queues.is_fifo(source):
                raise errors.invalid("The source queue and destination queue must be of the "
                                     "same queue type (both FIFO or both standard).")
        else:
            destination = None
        with self.tasks.lock:
            if self.tasks.active_for(source) is not None:
                raise errors.invalid("There is already a task running. Only one active task "
                                     "is allowed for a source queue arn at a given time.")
            task = MoveTask(self.new_id(), source, destination, rate, self.clock.now(),
                            self.queues.visible(source))
            self.tasks.add(task)
        self.launch(task)
        return {"TaskHandle": task.handle}

    def list(self, source: Any, max_results: Any = None) -> dict[str, Any]:
        source = _required("SourceArn", source)
        limit = 1 if max_results is None else _integer("MaxResults", max_results, 1,
                                                        MAX_LISTED)
        if not self.queues.exists(source):
            raise errors.not_found("SourceArn")
        with self.tasks.lock:
            return {"Results": [t.as_entry() for t in self.tasks.recent(source, limit)]}

    def cancel(self, handle: Any) -> dict[str, Any]:
        decoded = decode_handle(handle) if isinstance(handle, str) and handle else None
        if decoded is None:
            raise errors.invalid("Value for parameter TaskHandle is invalid.")
        task_id, source = decoded
        if not self.queues.exists(source):
            raise errors.not_found("SourceArn")
        task = self.tasks.get(task_id)
        if task is None or task.source_arn != source:
            raise errors.task_not_found()
        with self.tasks.lock:
            try:
                task.request_cancel()
            except NotCancellable as exc:
                raise errors.unsupported(str(exc)) from None
            moved = task.moved
        self.wake(task.task_id)
        return {"ApproximateNumberOfMessagesMoved": moved}


def _required(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise errors.MoveTaskError("MissingParameter",
                                   f"The request must contain the parameter {name}.")
    return value


def _integer(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise errors.invalid_value(name, value, "must be an integer") from None
    if not low <= number <= high:
        raise errors.invalid_value(name, value, f"must be between {low} and {high}.")
    return number
