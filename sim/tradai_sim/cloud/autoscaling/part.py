"""The Auto Scaling part: installs the controller behind the moto patches and runs its timers."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.autoscaling import moto_hooks
from tradai_sim.cloud.autoscaling.controller import AutoScalingController
from tradai_sim.cloud.context import CloudContext


class AutoScalingPart:
    name = "autoscaling"

    def __init__(self, ctx: CloudContext, invoker: Any) -> None:
        self.controller = AutoScalingController(ctx, invoker)
        ctx.control_routes["/autoscaling/unavailable-azs"] = self.controller.set_unavailable_azs
        ctx.resources["_autoscaling"] = self.controller

    def start(self) -> None:
        self.controller.timers.start()
        self.controller.start_health_checks()
        moto_hooks.install(self.controller)

    def stop(self) -> None:
        moto_hooks.install(None)
        self.controller.timers.stop()

    def status(self) -> dict[str, Any]:
        return self.controller.status()


def make_part(ctx: CloudContext, invoker: Any) -> AutoScalingPart:
    return AutoScalingPart(ctx, invoker)
