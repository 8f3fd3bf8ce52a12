"""The moto side of Auto Scaling: the patched functions (listed in ``moto_patches.PATCHES``).

Each forwards to the controller the part installs; until then (during the bootstrap) moto
behaves as shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tradai_sim.cloud.autoscaling.controller import PENDING_STATES, AutoScalingController
from tradai_sim.cloud.autoscaling.lifecycle import NoActiveAction

_controller: AutoScalingController | None = None


def install(controller: AutoScalingController | None) -> None:
    global _controller
    _controller = controller


def active_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    """Count Pending:Wait instances as capacity, or moto launches a second one on any resize."""

    def active_instances(self: Any) -> list[Any]:
        return [s for s in self.instance_states
                if s.lifecycle_state == "InService" or s.lifecycle_state in PENDING_STATES]

    return active_instances


def notify_terminate_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    """EC2 terminated instances: drop them from their groups, replace after the delay."""

    def notify_terminate_instances(self: Any, instance_ids: list[str]) -> None:
        if _controller is None:
            return original(self, instance_ids)
        for name, group in list(self.autoscaling_groups.items()):
            lost = [s.instance.id for s in group.instance_states if s.instance.id in instance_ids]
            if not lost:
                continue
            group.instance_states = [s for s in group.instance_states
                                     if s.instance.id not in lost]
            self.update_attached_elbs(name)
            _controller.instances_lost(group, lost)
        return None

    return notify_terminate_instances


def replace_autoscaling_group_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    """Every launch of a group passes here: place each new instance in the group's least-used
    available AZ (moto always takes the first subnet), then hand it to the lifecycle hooks."""

    def replace_autoscaling_group_instances(self: Any, count_needed: int,
                                            propagated_tags: dict[str, str]) -> None:
        before = {id(s) for s in self.instance_states}
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        # One look at the group's launch hooks for the whole launch: the instances held on
        # arrival are the ones the controller opens actions for, even if a hook is put or
        # deleted meanwhile (a second look could find none and leave them in Pending:Wait).
        hooks = _controller.launch_hooks(self.name) if _controller is not None else []
        hooked = bool(hooks)
        if hooked:
            # moto appends each new instance InService; a concurrent Describe must never see
            # that for an instance a launch hook holds (AWS: Pending, then Pending:Wait).
            self.instance_states = _HeldOnArrival(self.instance_states)
        try:
            if _controller is None or not subnets:
                original(self, count_needed, propagated_tags)
            else:
                _launch_spread(_controller, original, self, count_needed, propagated_tags,
                               subnets)
        finally:
            if hooked:
                self.instance_states = list(self.instance_states)
        if _controller is not None:
            _controller.launched(self, [s for s in self.instance_states if id(s) not in before],
                                 hooks)

    return replace_autoscaling_group_instances


class _HeldOnArrival(list):  # type: ignore[type-arg]
    """The group's instance list while moto launches into a group with launch hooks: each
    instance enters it already in Pending:Wait (the controller then opens its actions)."""

    def append(self, state: Any) -> None:
        state.lifecycle_state = "Pending:Wait"
        super().append(state)


def _launch_spread(controller: AutoScalingController, original: Callable[..., Any], group: Any,
                   count_needed: int, propagated_tags: dict[str, str],
                   subnets: list[str]) -> None:
    """Each instance in the group's least-used available AZ (moto takes the first subnet)."""
    listed = group.vpc_zone_identifier
    try:
        for _ in range(count_needed):
            first = controller.pick_subnet(group, subnets)
            if first is None:
                break  # no AZ can take it: a failed activity, retried later
            # moto launches into the first subnet of the list
            group.vpc_zone_identifier = ",".join([first, *[s for s in subnets if s != first]])
            original(group, 1, dict(propagated_tags))
    finally:
        group.vpc_zone_identifier = listed


def put_lifecycle_hook(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto drops NotificationMetadata and the notification target; keep them on the hook."""

    def put_lifecycle_hook(self: Any) -> Any:
        result = original(self)
        key = f"{self._get_param('AutoScalingGroupName')}_{self._get_param('LifecycleHookName')}"
        hook = self.autoscaling_backend.lifecycle_hooks.get(key)
        if hook is not None:
            hook.notification_metadata = self._get_param("NotificationMetadata")
            hook.notification_target_arn = self._get_param("NotificationTargetARN")
            hook.role_arn = self._get_param("RoleARN")
        return result

    return put_lifecycle_hook


def _complete(controller: AutoScalingController, response: Any) -> None:
    result = response._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise _validation(f"LifecycleActionResult {result!r} is not CONTINUE or ABANDON")
    controller.complete(response._get_param("AutoScalingGroupName"),
                        response._get_param("LifecycleHookName"), result,
                        response._get_param("LifecycleActionToken"),
                        response._get_param("InstanceId"))


def _heartbeat(controller: AutoScalingController, response: Any) -> None:
    controller.heartbeat(response._get_param("AutoScalingGroupName"),
                         response._get_param("LifecycleHookName"),
                         response._get_param("LifecycleActionToken"),
                         response._get_param("InstanceId"))


def _set_instance_health(controller: AutoScalingController, response: Any) -> None:
    status = response._get_param("HealthStatus")
    if status not in ("Healthy", "Unhealthy"):
        raise _validation("Valid instance health states are: [Healthy, Unhealthy]")
    try:
        controller.set_instance_health(
            response._get_param("InstanceId"), status,
            response._get_bool_param("ShouldRespectGracePeriod", True))
    except LookupError as exc:
        raise _validation(str(exc)) from exc


_ACTIONS: dict[str, Callable[[AutoScalingController, Any], None]] = {
    "CompleteLifecycleAction": _complete,
    "RecordLifecycleActionHeartbeat": _heartbeat,
    "SetInstanceHealth": _set_instance_health,
}


def create_auto_scaling_group(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto makes an absent (or 0) HealthCheckGracePeriod 300 s; the API's default is 0."""

    def create_auto_scaling_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = original(self, *args, **kwargs)
        given = kwargs.get("health_check_period")
        group.health_check_grace_period = int(given) if given not in (None, "") else 0
        return group

    return create_auto_scaling_group


def _validation(message: str) -> Exception:
    from moto.autoscaling.exceptions import ValidationError

    return ValidationError(message)


def call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the lifecycle-action calls moto does not implement, and SetInstanceHealth (moto
    only records the status); everything else is moto's."""

    def call_action(self: Any) -> Any:
        handler = _ACTIONS.get(self._get_action())
        if handler is None or _controller is None:
            return original(self)
        from moto.core.exceptions import ServiceException
        from moto.core.responses import ActionResult, EmptyResult

        result: ActionResult
        try:
            try:
                handler(_controller, self)
            except NoActiveAction as exc:
                raise _validation(str(exc)) from exc
            result = EmptyResult()
        except ServiceException as exc:
            result = ActionResult(exc)
        status, headers, body = self.serialized(result)
        headers, body = self._enrich_response(headers, body)
        return status, headers, body

    return call_action
