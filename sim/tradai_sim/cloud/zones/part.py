"""The AZ part: AZ outages, and what each does to the processes placed in the AZ.

``power``: the AZ's hosts go down. Its ECS tasks die at once (stop code TerminationNotice),
its Lambda execution environments die, its EC2 instances stop, an RDS instance there dies
(and starts again when the outage ends); ECS, Lambda and Auto Scaling
place nothing there until the outage ends; its subnets are cut off.
``network``: the AZ's subnets are cut off (as ``aws:network:disrupt-connectivity`` scope
``all`` would cut each); processes keep running, and placement still uses the AZ (nothing on
AWS tells ECS or Auto Scaling that an AZ is partitioned).

Other parts read ``unavailable_azs()`` through ``ctx.resources["_zones"]``. Ending a power
outage starts the instances it stopped (if the group has not replaced them meanwhile); ECS
services rebalance across AZs on their own.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from tradai_sim.cloud.context import CloudContext

log = logging.getLogger(__name__)

KINDS = ("power", "network")


class ZoneError(ValueError):
    """An outage that cannot be made (unknown AZ or kind): nothing is injected."""


@dataclass
class Outage:
    id: str
    az: str
    kind: str
    label: str
    started_at: float
    killed_tasks: list[str] = field(default_factory=list)
    killed_environments: int = 0
    stopped_instances: list[str] = field(default_factory=list)
    stopped_databases: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ZonesPart:
    name = "zones"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.outages: dict[str, Outage] = {}
        self.history: list[dict[str, Any]] = []
        self._lock = threading.RLock()

    # -- Part ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.ctx.resources["_zones"] = self
        self.ctx.control_routes["/zones"] = self._route

    def stop(self) -> None:
        pass

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"azs": self.azs(), "unavailable": sorted(self.unavailable_azs()),
                    "outages": [o.describe() for o in self.outages.values()],
                    "history": self.history[-20:]}

    def azs(self) -> list[str]:
        return [f"{self.ctx.region}{az.name}" for az in self.ctx.topology.network.azs]

    def unavailable_azs(self) -> set[str]:
        """AZs that take no new placements (a power outage)."""
        return {o.az for o in list(self.outages.values()) if o.kind == "power"}

    # -- outages ------------------------------------------------------------------------------
    def outage(self, az: str, kind: str, label: str = "") -> str:
        if az not in self.azs():
            raise ZoneError(f"availabilityZone {az!r} is not an AZ of this deployment "
                            f"({', '.join(self.azs())})")
        if kind not in KINDS:
            raise ZoneError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        with self._lock:
            oid = f"outage-{uuid.uuid4().hex[:8]}"
            outage = Outage(oid, az, kind, label or f"{kind} outage of {az}",
                            self.ctx.clock.now())
            self.outages[oid] = outage
            self._record("outage-started", outage)
            network = self.ctx.resources.get("_network")
            if network is not None:
                network.set_outage(az, f"Availability Zone {az} {kind} outage ({outage.label})")
            if kind == "power":
                self._power_off(outage)
            return oid

    def _power_off(self, outage: Outage) -> None:
        az = outage.az
        reason = f"Availability Zone {az} lost power ({outage.label})"
        asg = self.ctx.resources.get("_autoscaling")
        if asg is not None:
            asg.unavailable_azs.add(az)
        ecs = self.ctx.resources.get("_ecs")
        if ecs is not None:
            outage.killed_tasks = [r.task_id for r in ecs.runtime.power_off(az, reason)]
        invoker = self.ctx.resources.get("_invoker")
        if invoker is not None:
            outage.killed_environments = invoker.runtime.kill_in_az(az)
        rds = self.ctx.resources.get("_rds")
        if rds is not None and rds.power_off(az, reason):
            outage.stopped_databases = [rds.identifier]
        ec2 = self.ctx.client("ec2")
        running = ec2.describe_instances(Filters=[
            {"Name": "availability-zone", "Values": [az]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
        ids = [i["InstanceId"] for r in running["Reservations"] for i in r["Instances"]]
        if ids:
            ec2.stop_instances(InstanceIds=ids, Force=True)
        outage.stopped_instances = ids
        network = self.ctx.resources.get("_network")
        if network is not None:  # their NAT egress processes die now, not at the next pass
            network.refresh(force=True)
        log.info("%s: killed %d tasks, %d Lambda environments, stopped %s", outage.id,
                 len(outage.killed_tasks), outage.killed_environments, ids)

    def end_outage(self, outage_id: str) -> None:
        with self._lock:
            outage = self.outages.pop(outage_id, None)
            if outage is None:
                return
            self._record("outage-ended", outage)
            if any(o.az == outage.az for o in self.outages.values()):
                return  # another outage still holds the AZ
            network = self.ctx.resources.get("_network")
            if network is not None:
                network.clear_outage(outage.az)
            if outage.kind == "power":
                self._power_on(outage)

    def _power_on(self, outage: Outage) -> None:
        asg = self.ctx.resources.get("_autoscaling")
        if asg is not None:
            asg.unavailable_azs.discard(outage.az)
        rds = self.ctx.resources.get("_rds")
        if rds is not None:  # its server starts again (crash recovery), as RDS restarts it
            rds.power_on(outage.az)
        if not outage.stopped_instances:
            return
        ec2 = self.ctx.client("ec2")
        found = ec2.describe_instances(Filters=[
            {"Name": "instance-id", "Values": outage.stopped_instances},
            {"Name": "instance-state-name", "Values": ["stopped"]}])
        ids = [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
        if ids:  # instances the group has not replaced meanwhile come back
            ec2.start_instances(InstanceIds=ids)

    def _record(self, event: str, outage: Outage) -> None:
        self.history.append({"at": self.ctx.clock.now(), "event": event, "id": outage.id,
                             "az": outage.az, "kind": outage.kind, "label": outage.label})
        del self.history[:-100]
        log.info("%s %s: %s %s", event, outage.id, outage.kind, outage.az)

    # -- control route ------------------------------------------------------------------------
    def _route(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body["method"] == "POST":
            try:
                oid = self.outage(str(body.get("az", "")), str(body.get("kind", "power")),
                                  str(body.get("label", "")))
            except ZoneError as exc:
                return 400, {"error": str(exc)}
            return 200, {"id": oid, **self.status()}
        if body["method"] == "DELETE":
            self.end_outage(body["args"].get("id") or str(body.get("id", "")))
        return 200, self.status()


def make_part(ctx: CloudContext, invoker: Any) -> ZonesPart:
    return ZonesPart(ctx)
