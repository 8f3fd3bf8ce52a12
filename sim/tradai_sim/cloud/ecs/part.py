"""The ECS part of the control plane: the task runtime, the service scheduler, ``/ecs/tasks``,
the tasks' metadata endpoint (``/ecs/metadata/v4/<task id>``) and their role's credentials
endpoint (``/ecs/credentials/<task id>``)."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.ecs import credentials, metadata, moto_adapter
from tradai_sim.cloud.ecs.runtime import EcsRuntime
from tradai_sim.cloud.ecs.services import ServiceScheduler


class EcsPart:
    name = "ecs"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.runtime = EcsRuntime(
            ctx, moto_adapter.subnet_zone(ctx.account_id, ctx.region), sink=moto_adapter.publish,
            deregistration_delay=moto_adapter.deregistration_delay(ctx.account_id, ctx.region))
        self.scheduler = ServiceScheduler(
            ctx, self.runtime, moto_adapter.MotoServices(ctx.account_id, ctx.region))

    def start(self) -> None:
        moto_adapter.install_runtime(self.runtime)
        self.ctx.resources["_ecs"] = self
        self.ctx.control_routes["/ecs/tasks"] = lambda body: (200, {"tasks": self.tasks()})
        self.ctx.control_routes[metadata.ROUTE] = metadata.route(self.runtime.find)
        self.ctx.control_routes[credentials.ROUTE] = credentials.route(
            self.runtime.find, self.ctx.role_env, self.ctx.clock.now)
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        moto_adapter.install_runtime(None)
        self.runtime.stop_all()

    def tasks(self) -> list[dict[str, Any]]:
        return self.runtime.snapshot()

    def status(self) -> dict[str, Any]:
        tasks = self.tasks()
        return {"running": sum(1 for t in tasks if t["last_status"] != "STOPPED"),
                "tasks": tasks, "services": self.scheduler.status()}


def make_part(ctx: CloudContext, invoker: Any) -> EcsPart:
    return EcsPart(ctx)
