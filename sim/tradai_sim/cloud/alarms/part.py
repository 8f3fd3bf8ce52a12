"""The alarms part: CloudWatch alarm evaluation on the simulated clock, the AWS metrics it
needs (SQS queues, the ALB's target groups), and ``/_sim/alarms`` for drill reports."""

from __future__ import annotations

import math
from typing import Any

from tradai_sim.cloud.alarms import alb_metrics, moto_hooks, moto_view, sqs_metrics
from tradai_sim.cloud.alarms.datum import Datum
from tradai_sim.cloud.alarms.engine import HIGH_RESOLUTION_TICK, AlarmEngine
from tradai_sim.cloud.autoscaling.timers import SimTimers
from tradai_sim.cloud.context import CloudContext


def prepare(ctx: CloudContext) -> None:
    """Before the bootstrap: alarms it creates and datapoints it puts carry simulated time."""
    moto_hooks.install_clock(ctx.clock)


class AlarmsPart:
    name = "alarms"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        account, region = ctx.account_id, ctx.region
        self.engine = AlarmEngine(
            account_id=account, region=region,
            backend=lambda: moto_view.cloudwatch_backend(account, region),
            publish=self._publish, history=moto_hooks.HISTORY, lock=moto_hooks.LOCK,
            samplers={"sqs": self._sample_queues, "alb": self._sample_targets})
        self.timers = SimTimers(ctx.clock, "alarms")
        ctx.control_routes["/alarms"] = self.route

    def start(self) -> None:
        moto_hooks.install_engine(self.engine)
        first = math.floor(self.ctx.clock.now() / HIGH_RESOLUTION_TICK + 1) * HIGH_RESOLUTION_TICK
        self.timers.at(first, lambda: self._tick(first))
        self.timers.start()

    def stop(self) -> None:
        moto_hooks.install_engine(None)
        self.timers.stop()

    def _tick(self, at: float) -> None:
        try:
            self.engine.tick(at)
        finally:  # the next round is due whatever became of this one
            nxt = at + HIGH_RESOLUTION_TICK
            if not self.ctx.stopping.is_set():
                self.timers.at(nxt, lambda: self._tick(nxt))

    def _publish(self, topic_arn: str, subject: str, message: str) -> str:
        return str(self.ctx.client("sns").publish(TopicArn=topic_arn, Subject=subject,
                                                  Message=message)["MessageId"])

    def _sample_queues(self, at: float) -> list[Datum]:
        backend = moto_view.sqs_backend(self.ctx.account_id, self.ctx.region)
        return sqs_metrics.sample(backend, self.ctx.clock, at)

    def _sample_targets(self, at: float) -> list[Datum]:
        alb = self.ctx.resources.get("endpoints", {}).get("alb")
        if not alb:
            return []
        services = [s.name for s in self.ctx.topology.services if s.load_balanced]
        return alb_metrics.target_metrics(alb_metrics.fetch_targets(alb), services,
                                          self.ctx.name, at)

    def route(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, self.engine.report(body.get("args", {}).get("name"))

    def status(self) -> dict[str, Any]:
        return self.engine.summary()


def make_part(ctx: CloudContext, invoker: Any) -> AlarmsPart:
    return AlarmsPart(ctx)
