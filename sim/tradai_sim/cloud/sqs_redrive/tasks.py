"""Every move task of the local cloud, by id and by source queue (newest first)."""

from __future__ import annotations

import threading

from tradai_sim.cloud.sqs_redrive.model import MoveTask

KEPT_PER_SOURCE = 10  # ListMessageMoveTasks shows at most the 10 most recent


class MoveTasks:
    def __init__(self) -> None:
        # Guards every task's fields: the API thread cancels, the mover counts and finishes.
        self.lock = threading.RLock()
        self._by_id: dict[str, MoveTask] = {}
        self._by_source: dict[str, list[MoveTask]] = {}

    def active_for(self, source_arn: str) -> MoveTask | None:
        with self.lock:
            return next((t for t in self._by_source.get(source_arn, []) if t.active), None)

    def add(self, task: MoveTask) -> None:
        with self.lock:
            tasks = [task, *self._by_source.get(task.source_arn, [])]
            kept, dropped = tasks[:KEPT_PER_SOURCE], tasks[KEPT_PER_SOURCE:]
            kept += [t for t in dropped if t.active]  # an active task is never forgotten
            for t in dropped:
                if not t.active:
                    self._by_id.pop(t.task_id, None)
            self._by_source[task.source_arn] = kept
            self._by_id[task.task_id] = task

    def get(self, task_id: str) -> MoveTask | None:
        with self.lock:
            return self._by_id.get(task_id)

    def recent(self, source_arn: str, limit: int) -> list[MoveTask]:
        with self.lock:
            return list(self._by_source.get(source_arn, [])[:limit])

    def all(self) -> list[MoveTask]:
        with self.lock:
            return list(self._by_id.values())
