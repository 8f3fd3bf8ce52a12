"""The Auto Scaling control plane moto lacks, driven by the patched moto calls (moto_hooks).

- A lost instance (EC2 termination, a fault) is replaced after the group's replacement delay
  on the simulated clock, not at once as moto does.
- A launch through a group with launch hooks puts the instance in Pending:Wait, opens one
  lifecycle action per hook and invokes the hook's target Lambda asynchronously; completion
  (CONTINUE -> InService, ABANDON -> terminated and replaced), heartbeats and the heartbeat
  timeout (DefaultResult) follow AWS.
- Health checks: an InService instance that is no longer ``running`` (stopped by a fault or an
  AZ power loss) is marked Unhealthy and terminated, then replaced after the delay, as EC2
  health checks do; not before the group's HealthCheckGracePeriod (simulated) has passed since
  it came InService. SetInstanceHealth Unhealthy does the same (respecting the grace period
  unless ShouldRespectGracePeriod is false).
- A termination Auto Scaling decides for health (checks, SetInstanceHealth) runs the group's
  termination hooks: the instance waits in Terminating:Wait until they complete or time out
  (their DefaultResult), then Terminating:Proceed and Terminated; the replacement is launched
  after the delay, from then.
- Launches go only to available AZs, and fail in an AZ under an injected insufficient-capacity
  fault (``aws:ec2:asg-insufficient-instance-capacity-error``) with AWS's
  InsufficientInstanceCapacity message; a failed launch is retried after
  ``LAUNCH_RETRY_SECONDS``.

Methods run on moto request threads and on the timer thread; one re-entrant lock guards the
controller's state (a replacement launch re-enters through ``launched``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradai_sim.cloud.autoscaling.lifecycle import (
    LAUNCHING,
    TERMINATING,
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
HEALTH_CHECK_SECONDS = 10.0  # simulated; how soon a stopped instance is found unhealthy
LAUNCH_RETRY_SECONDS = 30.0  # simulated; a launch that found no capacity is tried again


@dataclass(frozen=True)
class CapacityFault:
    id: str
    groups: frozenset[str]
    azs: frozenset[str]
    percentage: int
    label: str


def insufficient_capacity_message(instance_type: str, az: str) -> str:
    """The status message of a failed launch activity (InsufficientInstanceCapacity)."""
    return (f"We currently do not have sufficient {instance_type} capacity in the Availability "
            f"Zone you requested ({az}). Our system will be working on provisioning additional "
            "capacity. Launching EC2 instance failed.")


class AutoScalingController:
    def __init__(self, ctx: CloudContext, invoker: Any) -> None:
        self.ctx = ctx
        self.invoker = invoker
        self.timers = SimTimers(ctx.clock, "autoscaling-timers")
        self.actions = PendingActions()
        self.lock = threading.RLock()
        self.replacement_due: dict[str, float] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        # AZs an outage has taken away: launches go elsewhere, or fail.
        self.unavailable_azs: set[str] = set()
        self.capacity_faults: dict[str, CapacityFault] = {}
        self._random = random.Random(7)  # percentages of capacity faults, reproducibly
        # When each instance came InService (simulated): the health check grace period's start.
        self.in_service_at: dict[str, float] = {}

    # -- moto side --------------------------------------------------------------------------
    def backend(self) -> Any:
        from moto.autoscaling import autoscaling_backends

        return autoscaling_backends[self.ctx.account_id][self.ctx.region]

    def replacement_seconds(self, group: str) -> float:
        if group == self.ctx.resources.get("nat_asg"):
            return float(self.ctx.topology.network.nat.replacement_seconds)
        return DEFAULT_REPLACEMENT_SECONDS

    def _record(self, what: str, group: str, instance: str | None = None,
                at: float | None = None, **extra: Any) -> None:
        now = self.ctx.clock.now() if at is None else at
        self.history.append({"at": now, "at_iso": iso_z(now), "event": what, "group": group,
                             "instance": instance, **extra})
        log.info("%s %s %s %s", what, group, instance or "", extra or "")

    # -- replacement ------------------------------------------------------------------------
    def instances_lost(self, group: Any, instance_ids: list[str]) -> None:
        """Instances left the group without a scale-in: replace them after the delay."""
        with self.lock:
            now = self.ctx.clock.now()  # one instant: the loss and the replacement's due
            for iid in instance_ids:
                self.actions.drop_instance(iid)
                self.in_service_at.pop(iid, None)
                self._record("instance-lost", group.name, iid, at=now)
            self._schedule_replacement(group.name, now)

    def _schedule_replacement(self, group: str, now: float | None = None) -> None:
        if group in self.replacement_due:
            return  # one reconcile fills every gap of the group
        due = (self.ctx.clock.now() if now is None else now) + self.replacement_seconds(group)
        self.replacement_due[group] = due
        self._record("replacement-scheduled", group, due=due)
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

    def pick_subnet(self, group: Any, subnets: list[str]) -> str | None:
        """AWS balances a group over its AZs: the available AZ with the fewest instances.
        None (and a failed activity, retried later) when no AZ can take a launch."""
        ec2 = self.backend().ec2_backend
        zone = {sid: ec2.get_subnet(sid).availability_zone for sid in subnets}
        usable = [sid for sid in subnets if zone[sid] not in self.unavailable_azs
                  and not self._capacity_refused(group.name, zone[sid])]
        if not usable:
            az = ", ".join(sorted({zone[s] for s in subnets}))
            itype = getattr(group, "instance_type", None) or "the requested instance type"
            self._record("launch-failed", group.name, reason=insufficient_capacity_message(
                str(itype), az))
            self.timers.at(self.ctx.clock.now() + LAUNCH_RETRY_SECONDS,
                           lambda: self._replace(group.name))
            return None
        load = {sid: sum(1 for s in group.instance_states if s.availability_zone == zone[sid])
                for sid in usable}
        return min(usable, key=lambda sid: load[sid])  # ties: the first listed

    def _capacity_refused(self, group: str, az: str) -> bool:
        return any(group in f.groups and az in f.azs and self._random.randrange(100) < f.percentage
                   for f in self.capacity_faults.values())

    def set_unavailable_azs(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Control route: ``{"unavailable": ["eu-central-1a"]}`` (a fault injector's AZ loss)."""
        self.unavailable_azs = set(body.get("unavailable", []))
        return 200, {"unavailable": sorted(self.unavailable_azs)}

    # -- faults -------------------------------------------------------------------------------
    def insufficient_capacity(self, groups: list[str], azs: list[str], percentage: int,
                              label: str) -> str:
        """``aws:ec2:asg-insufficient-instance-capacity-error``: launches of these groups in
        these AZs fail (at ``percentage`` percent) until the fault ends."""
        with self.lock:
            unknown = [g for g in groups if g not in self.backend().autoscaling_groups]
            if unknown or not groups:
                raise ValueError(f"unknown Auto Scaling group(s): {', '.join(unknown) or '-'}")
            fid = f"capacity-{uuid.uuid4().hex[:8]}"
            self.capacity_faults[fid] = CapacityFault(fid, frozenset(groups), frozenset(azs),
                                                      int(percentage), label)
            self._record("capacity-fault-started", ",".join(groups), azs=sorted(azs),
                         percentage=percentage)
            return fid

    def end_insufficient_capacity(self, fault_id: str) -> None:
        with self.lock:
            fault = self.capacity_faults.pop(fault_id, None)
            if fault is not None:
                self._record("capacity-fault-ended", ",".join(sorted(fault.groups)))

    # -- health checks ------------------------------------------------------------------------
    def start_health_checks(self) -> None:
        self.timers.at(self.ctx.clock.now() + HEALTH_CHECK_SECONDS, self._health_check)

    def in_grace(self, group: Any, instance_id: str) -> bool:
        """Within HealthCheckGracePeriod of coming InService (an instance never seen coming
        InService, e.g. launched before the controller was installed, is past it)."""
        since = self.in_service_at.get(instance_id)
        # Wall seconds: the grace period covers an instance's start-up work (README time table)
        grace = self.ctx.clock.to_sim(float(group.health_check_grace_period or 0))
        return since is not None and self.ctx.clock.now() - since < grace

    def _health_check(self) -> None:
        """An InService instance that is not running is Unhealthy: terminate it (the group then
        replaces it), as EC2 health checks make Auto Scaling do, once past the grace period."""
        try:
            with self.lock:
                for name, group in list(self.backend().autoscaling_groups.items()):
                    sick = [s for s in group.instance_states
                            if s.lifecycle_state == "InService"
                            and s.instance.state not in ("pending", "running")
                            and not self.in_grace(group, s.instance.id)]
                    for state in sick:
                        self._record("instance-unhealthy", name, state.instance.id,
                                     ec2_state=state.instance.state)
                        self._unhealthy(group, state, "an EC2 health check failed")
        finally:
            if not self.ctx.stopping.is_set():
                self.start_health_checks()

    def set_instance_health(self, instance_id: str, status: str, respect_grace: bool) -> None:
        """SetInstanceHealth: Unhealthy takes the instance out of service, terminates and
        replaces it; within the grace period the call is ignored unless told not to respect it."""
        with self.lock:
            found = self._find(instance_id)
            if found is None:
                raise LookupError(f"Instance Id not found - No managed instance found for "
                                  f"instance ID: {instance_id}")
            group, state = found
            if status == "Healthy":
                state.health_status = "Healthy"
                return
            if respect_grace and self.in_grace(group, instance_id):
                self._record("set-health-ignored", group.name, instance_id,
                             reason="within HealthCheckGracePeriod")
                return
            self._record("instance-unhealthy", group.name, instance_id, source="SetInstanceHealth")
            self._unhealthy(group, state, "SetInstanceHealth Unhealthy")

    def _find(self, instance_id: str) -> tuple[Any, Any] | None:
        for group in self.backend().autoscaling_groups.values():
            for state in group.instance_states:
                if state.instance.id == instance_id:
                    return group, state
        return None

    def _unhealthy(self, group: Any, state: Any, reason: str) -> None:
        state.health_status = "Unhealthy"
        if not str(state.lifecycle_state).startswith("Terminating"):
            self.terminate(group, state, reason, replace=True)

    # -- termination ------------------------------------------------------------------------
    def terminate(self, group: Any, state: Any, reason: str, replace: bool) -> None:
        """Auto Scaling terminates ``state``'s instance: through its termination hooks
        (Terminating:Wait) when the group has any, then Terminating:Proceed -> Terminated."""
        iid = state.instance.id
        self.actions.drop_instance(iid)  # a launch still waiting on its hooks ends here
        hooks = self.hooks(group.name, TERMINATING)
        self._record("instance-terminating", group.name, iid, reason=reason,
                     hooks=[h.name for h in hooks])
        if not hooks:
            self._terminated(group, state, reason, replace)
            return
        state.lifecycle_state = "Terminating:Wait"
        state.replace_after_terminate = replace
        state.terminate_reason = reason
        now = self.ctx.clock.now()
        for hook in hooks:
            action = self.actions.open(group.name, hook, iid, now, self.ctx.clock.scale)
            self.timers.at(action.deadline, lambda a=action: self._timeout(a))
            self._notify(action, group.arn, now)

    def _terminated(self, group: Any, state: Any, reason: str, replace: bool) -> None:
        iid = state.instance.id
        state.lifecycle_state = "Terminating:Proceed"
        group.instance_states = [s for s in group.instance_states if s is not state]
        self.in_service_at.pop(iid, None)
        self.backend().ec2_backend.terminate_instances([iid])
        self.backend().update_attached_elbs(group.name)
        self._record("instance-terminated", group.name, iid, reason=reason)
        if replace:
            self._schedule_replacement(group.name)

    # -- lifecycle hooks --------------------------------------------------------------------
    def hooks(self, group: str, transition: str) -> list[Any]:
        return [h for h in self.backend().lifecycle_hooks.values()
                if h.auto_scaling_group_name == group and h.lifecycle_transition == transition]

    def launch_hooks(self, group: str) -> list[Any]:
        return self.hooks(group, LAUNCHING)

    def launched(self, group: Any, states: list[Any], hooks: list[Any]) -> None:
        """New instances of ``group``: hold them in Pending:Wait while ``hooks`` (its launch
        hooks when the launch began) run."""
        with self.lock:
            now = self.ctx.clock.now()
            for state in states:
                self._record("instance-launched", group.name, state.instance.id,
                             az=state.availability_zone, hooks=[h.name for h in hooks])
                if not hooks:
                    self.in_service_at[state.instance.id] = now  # moto made it InService
                    continue
                state.lifecycle_state = "Pending:Wait"
                for hook in hooks:
                    action = self.actions.open(group.name, hook, state.instance.id, now,
                                               self.ctx.clock.scale)
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
            action.deadline = self.ctx.clock.now() + self.ctx.clock.to_sim(
                action.heartbeat_timeout)  # wall seconds: it bounds the action's work
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
        if action.transition == TERMINATING:
            if result == "ABANDON":  # the remaining termination hooks are skipped
                self.actions.drop_instance(action.instance_id)
            if not self.actions.for_instance(action.instance_id):
                self._terminated(group, state, getattr(state, "terminate_reason", how),
                                 getattr(state, "replace_after_terminate", True))
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
            self.in_service_at[action.instance_id] = self.ctx.clock.now()
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
                    "terminate_hooks": [h.name for h in self.hooks(name, TERMINATING)],
                    "health_check_grace_period": g.health_check_grace_period,
                }
            return {"groups": groups, "unavailable_azs": sorted(self.unavailable_azs),
                    "capacity_faults": [{"id": f.id, "groups": sorted(f.groups),
                                         "azs": sorted(f.azs), "percentage": f.percentage,
                                         "label": f.label}
                                        for f in self.capacity_faults.values()],
                    "pending_actions": [a.describe() for a in self.actions.by_token.values()],
                    "history": list(self.history)}
