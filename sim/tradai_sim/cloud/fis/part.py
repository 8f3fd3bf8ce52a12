"""The FIS part: executes the experiments the emulator's FIS API starts.

It creates the role experiments run as (``tradai-<env>-fis``, trusted by
``fis.amazonaws.com``), installs the executor behind the patched FIS backend, the API-error
interceptor in front of moto, and a watch over stop-condition alarms; ``/_sim/fis/experiments``
serves each experiment's history (timeline with simulated and wall timestamps).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from botocore.exceptions import ClientError

from tradai.faults.templates import FIS_ROLE
from tradai_sim.cloud import emulator
from tradai_sim.cloud.autoscaling.timers import SimTimers
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.fis import moto_hooks
from tradai_sim.cloud.fis.actions import registry
from tradai_sim.cloud.fis.api_faults import ApiFaultRules
from tradai_sim.cloud.fis.executor import Executor
from tradai_sim.cloud.fis.interceptor import ApiFaultInterceptor
from tradai_sim.cloud.fis.stop_conditions import moto_alarm_states
from tradai_sim.cloud.fis.targets import TargetResolver

log = logging.getLogger(__name__)

SEED_ENV = "TRADAI_SIM_FIS_SEED"  # fixes every experiment's random choices
WATCH_WALL_SECONDS = 0.2  # how soon an alarm in ALARM stops its experiments
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


class FisPart:
    name = "fis"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.api_faults = ApiFaultRules()
        self.timers = SimTimers(ctx.clock, "fis-timers")
        seed = os.environ.get(SEED_ENV)
        self.executor = Executor(
            ctx, self.timers, TargetResolver(ctx).resolve, registry.create, self.api_faults,
            moto_alarm_states(ctx.account_id), self._role_exists,
            base_seed=int(seed) if seed else None)
        self.interceptor = ApiFaultInterceptor(self.api_faults, ctx.account_id)
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_alarms, name="fis-alarms", daemon=True)

    def start(self) -> None:
        role_arn = self._ensure_role()
        # What a client needs to render templates for this stack (shown in status).
        self.ctx.resources["fis"] = {"project": self.ctx.topology.project, "env": self.ctx.env,
                                     "region": self.ctx.region, "account": self.ctx.account_id,
                                     "role_arn": role_arn}
        self.timers.start()
        moto_hooks.install(self.executor)
        emulator.request_interceptors.append(self.interceptor)
        self.ctx.control_routes["/fis/experiments"] = self._history_route
        self._watch.start()

    def stop(self) -> None:
        self._stop.set()
        self.executor.shutdown()  # frozen processes continued, locks released, faults cleared
        if self.interceptor in emulator.request_interceptors:
            emulator.request_interceptors.remove(self.interceptor)
        moto_hooks.install(None)
        self.timers.stop()
        self._watch.join(timeout=2)

    def status(self) -> dict[str, Any]:
        with self.executor.lock:
            runs = list(self.executor.runs.values())
            return {"experiments": {r.id: {"status": r.status, "reason": r.reason,
                                           "actions": {n: a.status for n, a in r.actions.items()}}
                                    for r in runs},
                    "api_faults": self.api_faults.snapshot()}

    def _history_route(self, body: dict[str, Any]) -> tuple[int, Any]:
        experiment_id = (body.get("args") or {}).get("id")
        return 200, {"experiments": self.executor.history(experiment_id),
                     "api_faults": self.api_faults.snapshot()}

    def _watch_alarms(self) -> None:
        while not (self._stop.is_set() or self.ctx.stopping.is_set()):
            try:
                self.executor.check_stop_conditions()
            except Exception:
                log.exception("checking FIS stop conditions failed")
            self._stop.wait(WATCH_WALL_SECONDS)

    def _ensure_role(self) -> str:
        iam = self.ctx.client("iam")
        name = self.ctx.name(FIS_ROLE)
        try:
            return str(iam.get_role(RoleName=name)["Role"]["Arn"])
        except ClientError:
            return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                                       Description="The role AWS FIS experiments run as")[
                "Role"]["Arn"])

    def _role_exists(self, role_arn: str) -> bool:
        try:
            self.ctx.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])
        except ClientError:
            return False
        return True


def make_part(ctx: CloudContext, invoker: Any) -> FisPart:
    return FisPart(ctx)
