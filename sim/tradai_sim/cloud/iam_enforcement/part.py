"""The IAM enforcement part: installs the enforcer in front of moto (before the FIS
interceptor, as AWS authorises a call before anything else happens to it) and serves
``/_sim/iam``: the mode, counts, each distinct denial and what could not be judged."""

from __future__ import annotations

from typing import Any

from tradai_sim.cloud import emulator
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.iam_enforcement.interceptor import IamEnforcer, mode_from_env

ROUTE = "/iam"


class IamEnforcementPart:
    name = "iam"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.enforcer = IamEnforcer(ctx.account_id, mode_from_env())

    def start(self) -> None:
        emulator.request_interceptors.insert(0, self.enforcer)
        self.ctx.control_routes[ROUTE] = self.enforcer.route

    def stop(self) -> None:
        if self.enforcer in emulator.request_interceptors:
            emulator.request_interceptors.remove(self.enforcer)

    def status(self) -> dict[str, Any]:
        snap = self.enforcer.status()
        return {"mode": snap["mode"], "counts": snap["counts"],
                "roles_judged": len(snap["judged_by_role"]),
                "denials": len(snap["denials"]), "unjudged": len(snap["unjudged"])}


def make_part(ctx: CloudContext, invoker: Any) -> IamEnforcementPart:
    return IamEnforcementPart(ctx)
