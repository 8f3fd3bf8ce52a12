"""The SQS redrive part: serves the message move task operations through the emulator's SQS
API and runs the tasks on the simulated clock."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.sqs_redrive import moto_hooks
from tradai_sim.cloud.sqs_redrive.api import MoveTaskService
from tradai_sim.cloud.sqs_redrive.queues import MotoQueues
from tradai_sim.cloud.sqs_redrive.runner import Mover
from tradai_sim.cloud.sqs_redrive.tasks import MoveTasks


class SqsRedrivePart:
    name = "sqs-redrive"

    def __init__(self, ctx: CloudContext) -> None:
        queues = MotoQueues()
        self.tasks = MoveTasks()
        self.mover = Mover(self.tasks, queues, ctx.clock)
        self.service = MoveTaskService(queues, ctx.clock, self.tasks, self.mover.launch,
                                       self.mover.wake)

    def start(self) -> None:
        moto_hooks.install(self.service)

    def stop(self) -> None:
        moto_hooks.install(None)
        self.mover.stop()

    def status(self) -> dict[str, Any]:
        with self.tasks.lock:
            return {"tasks": [{"source": t.source_arn.rsplit(":", 1)[-1], "status": t.status,
                               "moved": t.moved, "to_move": t.to_move}
                              for t in self.tasks.all()]}


def make_part(ctx: CloudContext, invoker: Any) -> SqsRedrivePart:
    return SqsRedrivePart(ctx)
