"""The SQS FIFO part: gives the deduplication hook the simulated clock (before the bootstrap
sends anything) and reports what the queues remember."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.sqs_fifo import moto_hooks
from tradai_sim.cloud.sqs_fifo.dedup import INTERVAL_SECONDS


def prepare(ctx: CloudContext) -> None:
    moto_hooks.install_clock(ctx.clock)


class SqsFifoPart:
    name = "sqs-fifo"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx

    def start(self) -> None:
        moto_hooks.install_clock(self.ctx.clock)

    def stop(self) -> None:
        pass  # the clock stays: moto keeps serving until the server stops

    def status(self) -> dict[str, Any]:
        from moto.sqs.models import sqs_backends

        now = self.ctx.clock.now()
        queues = sqs_backends[self.ctx.account_id][self.ctx.region].queues
        remembered = {name: moto_hooks.window_of(q).remembered(now)
                      for name, q in list(queues.items()) if q.fifo_queue}
        return {"dedup_interval_seconds": INTERVAL_SECONDS,
                "remembered_dedup_ids": {k: v for k, v in remembered.items() if v}}


def make_part(ctx: CloudContext, invoker: Any) -> SqsFifoPart:
    return SqsFifoPart(ctx)
