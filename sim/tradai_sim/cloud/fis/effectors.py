"""The effects other parts of the cloud own, as the FIS actions reach them.

Each is an object in ``ctx.resources`` installed by the part that owns the behaviour (the
network, the availability zones, Auto Scaling, the ECS runtime). FIS writes against these
interfaces only; when one is missing at run time the action fails with a reason naming it.
"""

from __future__ import annotations

from typing import Any, Protocol

from tradai_sim.cloud.context import CloudContext

NETWORK = "_network"
ZONES = "_zones"
AUTOSCALING = "_autoscaling"
ECS = "_ecs"


class NetworkEffector(Protocol):
    def disrupt(self, subnet_ids: list[str], scope: str, prefix_list_id: str | None,
                label: str) -> str: ...

    def end_disruption(self, disruption_id: str) -> None: ...


class ZonesEffector(Protocol):
    def outage(self, az: str, kind: str, label: str) -> str: ...

    def end_outage(self, outage_id: str) -> None: ...


class AutoscalingEffector(Protocol):
    def insufficient_capacity(self, groups: list[str], azs: list[str], percentage: int,
                              label: str) -> str: ...

    def end_insufficient_capacity(self, fault_id: str) -> None: ...


class TaskPlacement(Protocol):
    az: str | None


class TaskRecordView(Protocol):
    pid: int | None
    placement: TaskPlacement


class TaskRuntime(Protocol):
    def find(self, task_arn_or_id: str) -> TaskRecordView | None: ...


class EcsEffector(Protocol):
    runtime: TaskRuntime


class EffectorMissing(RuntimeError):
    pass


_WHAT = {
    NETWORK: "the network part (subnet connectivity)",
    ZONES: "the availability-zone part (AZ outages)",
    AUTOSCALING: "the Auto Scaling part's capacity faults",
    ECS: "the ECS runtime (task processes)",
}


def effector(ctx: CloudContext, key: str) -> Any:
    """The effector installed under ``key``; EffectorMissing names what is absent."""
    found = ctx.resources.get(key)
    if found is None:
        raise EffectorMissing(f"{_WHAT.get(key, key)} is not available in this cloud "
                              f"(ctx.resources[{key!r}] is not installed)")
    return found
