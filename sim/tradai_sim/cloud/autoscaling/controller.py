"""The Auto Scaling control plane moto lacks, driven by the patched moto calls (moto_hooks).

- A lost instance (EC2 termination, a fault) is replaced after the group's replacement delay
  on the simulated clock, not at once as moto does.
- A launch through a group with launch hooks puts the instance in Pending:Wait, opens one
  lifecycle action per hook and invokes the hook's target Lambda asynchronously; completion
  (CONTINUE -> InService, ABANDON -> terminated and replaced), heartbeats and the heartbeat
  timeout (DefaultResult) follow AWS.

Methods run on moto request threads and on the timer thread; one re-entrant lock guards the
controller's state (a replacement launch re-enters through ``launched``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from datetime import datetime
from typing import Any

from tradai_sim.cloud.autoscaling.lifecycle import (
    LAUNCHING,
    LifecycleAction,
    PendingActions,
    lifecycle_event,
    target_lambda,
)
from tradai_sim.cloud.autoscaling.timers import SimTimers
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.scheduler.event import iso_z

log = logging.getLogger(__name__)

DEFAULT_REPLACEMENT_SECONDS = 120.0  # "ASG launches replacement (2 min)"
PENDING_STATES = ("Pending", "Pending:Wait", "Pending:Proceed")
HISTORY = 50


class AutoScalingController:
    def __init__(self, ctx: CloudContext, invoker: Any) -> None:
        self.ctx = ctx
        self.invoker = invoker
        self.timers = SimTimers(ctx.clock, "autoscaling-timers")
        self.actions = PendingActions()
        self.lock = threading.RLock()
        self.replacement_due: dict[str, float] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        # AZs a fault has taken away: launches avoid them while another AZ is left.
        self.unavailable_azs: set[str] = set()

    # -- moto side --------------------------------------------------------------------------
    def backend(self) -> Any:
        from moto.autoscaling import autoscaling_backends

        return autoscaling_backends[self.ctx.account_id][self.ctx.region]

    def replacement_seconds(self, group: str) -> float:
        if group == self.ctx.resources.get("nat_asg"):
            return float(self.ctx.topology.network.nat.replacement_seconds)
        return DEFAULT_REPLACEMENT_SECONDS

    def _record(self, what: str, group: str, instance: str | None = None, **extra: Any) -> None:
        now = self.ctx.clock.now()
        self.history.append({"at": now, "at_iso": iso_z(now), "event": what, "group": group,
                             "instance": instance, **extra})
        log.info("%s %s %s %s", what, group, instance or "", extra or "")

    # -- replacement ------------------------------------------------------------------------
    def instances_lost(self, group: Any, instance_ids: list[str]) -> None:
        """Instances left the group without a scale-in: replace them after the delay."""
        with self.lock:
            for iid in instance_ids:
                self.actions.drop_instance(iid)
                self._record("instance-lost", group.name, iid)
            self._schedule_replacement(group.name)

    def _schedule_replacement(self, group: str) -> None:
        if group in self.replacement_due:
            return  # one reconcile fills every gap of the group
        due = self.ctx.clock.now() + self.replacement_seconds(group)
        self.replacement_due[group] = due
        self.timers.at(due, lambda: self._replace(group))

    def _replace(self, name: str) -> None:
        with self.lock:
            self.replacement_due.pop(name, None)
            group = self.backend().autoscaling_groups.get(name)
            if group is None:
                return  # deleted meanwhile
            # moto launches the shortfall between desired and (pending + in-service) instances.
            group.set_desired_capacity(group.desired_capacity)
            self.backend().update_attached_elbs(name)

    def pick_subnet(self, group: Any, subnets: list[str]) -> str:
        """AWS balances a group over its AZs: the available AZ with the fewest instances."""
        ec2 = self.backend().ec2_backend
        zone = {sid: ec2.get_subnet(sid).availability_zone for sid in subnets}
        usable = [sid for sid in subnets if zone[sid] not in self.unavailable_azs] or subnets
        load = {sid: sum(1 for s in group.instance_states if s.availability_zone == zone[sid])
                for sid in usable}
        return min(usable, key=lambda sid: load[sid])  # ties: the first listed

    def set_unavailable_azs(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Control route: ``{"unavailable": ["eu-central-1a"]}`` (a fault injector's AZ loss)."""
        self.unavailable_azs = set(body.get("unavailable", []))
        return 200, {"unavailable": sorted(self.unavailable_azs)}

    # -- lifecycle hooks --------------------------------------------------------------------
    def launch_hooks(self, group: str) -> list[Any]:
        return [h for h in self.backend().lifecycle_hooks.values()
                if h.auto_scaling_group_name == group and h.lifecycle_transition == LAUNCHING]

    def launched(self, group: Any, states: list[Any]) -> None:
        """New instances of ``group``: hold them in Pending:Wait while its launch hooks run."""
        with self.lock:
            hooks = self.launch_hooks(group.name)
            now = self.ctx.clock.now()
            for state in states:
                self._record("instance-launched", group.name, state.instance.id,
                             az=state.availability_zone, hooks=[h.name for h in hooks])
                if not hooks:
                    continue
                state.lifecycle_state = "Pending:Wait"
                for hook in hooks:
                    action = self.actions.open(group.name, hook, state.instance.id, now)
                    self.timers.at(action.deadline, lambda a=action: self._timeout(a))
                    self._notify(action, group.arn, now)

    def _notify(self, action: LifecycleAction, group_arn: str, now: float) -> None:
        """AWS always emits the event to EventBridge; the hook's ``target_lambda`` metadata is
        the local stand-in for a rule wiring it to that Lambda. With neither, the action runs
        into its heartbeat timeout, as in AWS."""
        event = lifecycle_event(action, group_arn, now, self.ctx.account_id, self.ctx.region)
        # On the timer thread: this runs inside a moto request, which must not call back.
        self.timers.at(now, lambda: self._deliver(action, event))

    def _deliver(self, action: LifecycleAction, event: dict[str, Any]) -> None:
        self._publish(event)
        fn = target_lambda(action.metadata)
        if not fn:
            return
        try:  # a missing function is reported now, not after the async retries
            self.ctx.client("lambda").get_function(FunctionName=fn)
        except Exception as exc:
            self._record("hook-target-missing", action.group, action.instance_id,
                         hook=action.hook, target=fn, error=type(exc).__name__)
            return
        self.invoker.invoke_async(fn, event)

    def _publish(self, event: dict[str, Any]) -> None:
        self.ctx.client("events").put_events(Entries=[{
            "Source": event["source"], "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]), "Resources": event["resources"],
            "Time": datetime.fromisoformat(event["time"].replace("Z", "+00:00"))}])

    def complete(self, group: str, hook: str, result: str, token: str | None,
                 instance_id: str | None) -> None:
        with self.lock:
            action = self.actions.find(group, hook, token, instance_id)
            self._finish(action, result, "completed")

    def heartbeat(self, group: str, hook: str, token: str | None,
                  instance_id: str | None) -> None:
        with self.lock:
            action = self.actions.find(group, hook, token, instance_id)
            action.deadline = self.ctx.clock.now() + action.heartbeat_timeout
            self.timers.at(action.deadline, lambda: self._timeout(action))

    def _timeout(self, action: LifecycleAction) -> None:
        with self.lock:
            if action.token not in self.actions.by_token:
                return  # completed meanwhile
            if action.deadline > self.ctx.clock.now():
                return  # a heartbeat moved the deadline; its own timer is armed
            self._finish(action, action.default_result, "timed-out")

    def _finish(self, action: LifecycleAction, result: str, how: str) -> None:
        self.actions.close(action)
        self._record(f"lifecycle-{how}", action.group, action.instance_id, hook=action.hook,
                     result=result)
        group = self.backend().autoscaling_groups.get(action.group)
        state = next((s for s in (group.instance_states if group else [])
                      if s.instance.id == action.instance_id), None)
        if state is None:
            self.actions.drop_instance(action.instance_id)
            return
        if result == "ABANDON":
            self.actions.drop_instance(action.instance_id)
            group.instance_states = [s for s in group.instance_states if s is not state]
            self.backend().ec2_backend.terminate_instances([action.instance_id])
            self._record("instance-terminated", group.name, action.instance_id,
                         reason="lifecycle action abandoned")
            self._schedule_replacement(group.name)
        elif not self.actions.for_instance(action.instance_id):
            state.lifecycle_state = "InService"
            self._record("instance-in-service", group.name, action.instance_id)
            self.backend().update_attached_elbs(group.name)

    # -- reporting --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self.lock:
            backend = self.backend()
            groups = {}
            for name, g in list(backend.autoscaling_groups.items()):
                groups[name] = {
                    "min": g.min_size, "max": g.max_size, "desired": g.desired_capacity,
                    "replacement_seconds": self.replacement_seconds(name),
                    "replacement_due": self.replacement_due.get(name),
                    "instances": [{"id": s.instance.id, "az": s.availability_zone,
                                   "lifecycle_state": s.lifecycle_state,
                                   "health": s.health_status} for s in g.instance_states],
                    "launch_hooks": [h.name for h in self.launch_hooks(name)],
                }
            return {"groups": groups, "unavailable_azs": sorted(self.unavailable_azs),
                    "pending_actions": [a.describe() for a in self.actions.by_token.values()],
                    "history": list(self.history)}
