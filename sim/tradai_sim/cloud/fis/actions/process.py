"""``tradai:process:freeze``: the targeted ECS tasks' process groups get SIGSTOP for the
duration, then SIGCONT (a hung container: alive, holding its connections, answering nothing)."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection
from tradai_sim.cloud.fis.effectors import ECS, EcsEffector, EffectorMissing, effector


class FreezeTasks(Injection):
    def start(self) -> None:
        try:
            ecs: EcsEffector = effector(self.env.ctx, ECS)
        except EffectorMissing as exc:
            raise ActionFailed(str(exc)) from exc
        self.frozen: dict[str, int] = {}
        for task in self.env.resources("Tasks"):
            record = ecs.runtime.find(task.arn)
            if record is None or record.pid is None:
                raise ActionFailed(f"task {task.id} has no process in the ECS runtime")
            self.frozen[task.id] = record.pid
        for pid in self.frozen.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGSTOP)
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        gone = []
        for task_id, pid in self.frozen.items():
            try:
                os.killpg(pid, signal.SIGCONT)
            except ProcessLookupError:
                gone.append(task_id)
        if gone:
            self.notes.append(f"tasks that died while frozen: {', '.join(gone)}")

    def detail(self) -> dict[str, Any]:
        return {"frozen": dict(self.frozen)}
