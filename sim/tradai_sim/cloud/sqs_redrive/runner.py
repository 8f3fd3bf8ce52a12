"""Runs move tasks: each in a thread of its own that moves the source's messages, oldest
first, no faster than the task's rate on the simulated clock, until the task has moved what
it counted at its start (COMPLETED), is cancelled (CANCELLED, keeping what moved) or cannot
deliver (FAILED: the destination is gone, or a message has no source queue to go back to).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from tradai_sim.cloud.sqs_redrive.model import RUNNING, MoveTask
from tradai_sim.cloud.sqs_redrive.queues import DeadLetter, QueueGone, Queues
from tradai_sim.cloud.sqs_redrive.tasks import MoveTasks

log = logging.getLogger(__name__)

BATCH = 10  # messages taken from the source per receive, as ReceiveMessage allows
NO_SOURCE = "a message has no source queue to return to (it did not reach the dead-letter " \
            "queue through a redrive policy); give DestinationArn"


class SimClock(Protocol):
    def now(self) -> float: ...

    def wait(self, event: threading.Event, sim_seconds: float) -> bool: ...


class TaskRunner:
    def __init__(self, task: MoveTask, tasks: MoveTasks, queues: Queues, clock: SimClock,
                 wake: threading.Event) -> None:
        self.task = task
        self.tasks = tasks
        self.queues = queues
        self.clock = clock
        self.wake = wake  # set on cancel and on shutdown: cuts a rate wait short
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            log.exception("move task %s failed", self.task.task_id)
            with self.tasks.lock:
                self.task.fail(f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        task = self.task
        while not self.stopping.is_set():
            with self.tasks.lock:
                if task.status != RUNNING or task.moved >= task.to_move:
                    task.finish()
                    return
                now = self.clock.now()
                allowed = task.allowed_by(now) - task.moved
                next_due = task.due_at(task.moved)
            if allowed <= 0:
                self.clock.wait(self.wake, next_due - now)
                continue
            batch = self.queues.take(task.source_arn, min(allowed, BATCH))
            if not batch:  # fewer left than counted at the start (received or expired)
                with self.tasks.lock:
                    task.finish()
                return
            if not self._move(batch):
                return

    def _move(self, batch: list[DeadLetter]) -> bool:
        """Move what the task still may; False once the task has failed."""
        task = self.task
        for i, message in enumerate(batch):
            with self.tasks.lock:
                running = task.status == RUNNING
            destination = self._destination(message) if running else None
            if not running or destination is None:
                self._release(batch[i:])
                if running:
                    with self.tasks.lock:
                        task.fail(NO_SOURCE)
                    return False
                return True
            try:
                self.queues.put(destination, message)
            except QueueGone as gone:
                self._release(batch[i:])
                with self.tasks.lock:
                    task.fail(gone.reason)
                return False
            self.queues.remove(task.source_arn, message.receipt)
            with self.tasks.lock:
                task.record_moved()
        return True

    def _destination(self, message: DeadLetter) -> str | None:
        if self.task.destination_arn is not None:
            return self.task.destination_arn
        if message.origin_arn is not None:
            return message.origin_arn
        sources = self.queues.dead_letter_sources(self.task.source_arn)
        return sources[0] if len(sources) == 1 else None

    def _release(self, messages: list[DeadLetter]) -> None:
        for m in messages:
            self.queues.release(self.task.source_arn, m.receipt)


class Mover:
    """Starts a runner thread per task; wakes one on cancel; stops them all on shutdown."""

    def __init__(self, tasks: MoveTasks, queues: Queues, clock: SimClock) -> None:
        self.tasks = tasks
        self.queues = queues
        self.clock = clock
        self._runners: dict[str, tuple[TaskRunner, threading.Thread]] = {}
        self._lock = threading.Lock()

    def launch(self, task: MoveTask) -> None:
        runner = TaskRunner(task, self.tasks, self.queues, self.clock, threading.Event())
        thread = threading.Thread(target=runner.run, name=f"sqs-move-{task.task_id[:8]}",
                                  daemon=True)
        with self._lock:
            self._runners = {k: v for k, v in self._runners.items() if v[1].is_alive()}
            self._runners[task.task_id] = (runner, thread)
        thread.start()

    def wake(self, task_id: str) -> None:
        with self._lock:
            found = self._runners.get(task_id)
        if found is not None:
            found[0].wake.set()

    def stop(self) -> None:
        with self._lock:
            runners = list(self._runners.values())
        for runner, _ in runners:
            runner.stopping.set()
            runner.wake.set()
        for _, thread in runners:
            thread.join(timeout=5)
