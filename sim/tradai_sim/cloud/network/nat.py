"""The egress processes: one per running NAT instance, plus the internet gateway's.

A NAT instance forwards only while its EC2 instance is ``running``: the fleet starts its egress
process when the instance comes up and kills it (no graceful close, as when the instance
stops) when the instance stops or terminates. A process that dies on its own is not restarted:
the instance still looks healthy to EC2, and its route forwards nothing, as on AWS.
"""

from __future__ import annotations

import logging
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.network.processes import ChildProcess
from tradai_sim.cloud.network.view import Ec2View
from tradai_sim.vpc.marks import EGRESS_TOKEN_ENV

log = logging.getLogger(__name__)

EGRESS_MODULE = "tradai_sim.vpc.egress"
FORWARDING_STATES = ("running",)


class EgressFleet:
    def __init__(self, ctx: CloudContext, token: str) -> None:
        self.ctx = ctx
        self.env = {EGRESS_TOKEN_ENV: token}
        self.nat: dict[str, ChildProcess] = {}
        self.history: list[dict[str, Any]] = []
        self.igw = ChildProcess(ctx, "egress-igw", EGRESS_MODULE, ["--identity", "igw"],
                                self.env)

    def start(self) -> None:
        self.igw.spawn()
        self.igw.wait_ready()

    def stop(self) -> None:
        for proc in [*self.nat.values(), self.igw]:
            proc.stop()
        self.nat.clear()

    def reconcile(self, view: Ec2View) -> bool:
        """Start and kill egress processes after the instances' states; True if any changed."""
        changed = False
        for iid, inst in view.instances.items():
            if inst.state in FORWARDING_STATES and iid not in self.nat:
                proc = ChildProcess(self.ctx, f"nat-{iid}", EGRESS_MODULE,
                                    ["--identity", f"nat:{iid}"], self.env)
                proc.spawn()
                self.nat[iid] = proc
                self._record("nat-started", iid, inst.az)
        for iid in list(self.nat):
            inst = view.instances.get(iid)
            if inst is None or inst.state not in FORWARDING_STATES:
                self.nat.pop(iid).kill()
                self._record("nat-killed", iid, inst.az if inst else None,
                             state=inst.state if inst else "gone")
                changed = True
        return changed

    def ports(self) -> dict[str, int]:
        """Instance id -> port, for the processes that are up and ready."""
        out = {}
        for iid, proc in self.nat.items():
            info = proc.poll_ready()
            if info is not None and proc.alive:
                out[iid] = int(info["port"])
        return out

    def igw_port(self) -> int | None:
        info = self.igw.poll_ready()
        return int(info["port"]) if info is not None and self.igw.alive else None

    def _record(self, event: str, instance: str, az: str | None, **extra: Any) -> None:
        entry = {"at": self.ctx.clock.now(), "event": event, "instance": instance, "az": az,
                 **extra}
        self.history.append(entry)
        del self.history[:-100]
        log.info("%s %s (%s) %s", event, instance, az, extra or "")

    def status(self) -> dict[str, Any]:
        return {
            "igw": {"pid": self.igw.pid, "port": self.igw_port(), "alive": self.igw.alive},
            "nat": {iid: {"pid": p.pid, "alive": p.alive,
                          "port": (p.poll_ready() or {}).get("port")}
                    for iid, p in self.nat.items()},
            "history": self.history[-20:],
        }
