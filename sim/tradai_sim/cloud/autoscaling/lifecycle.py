"""Pending lifecycle actions: who is waiting on which hook, until when, and the event AWS sends.

One action per (instance, hook). A launching instance stays in Pending:Wait until every action
is completed with CONTINUE; any ABANDON, or a timeout whose DefaultResult is ABANDON, ends it.
A terminating instance stays in Terminating:Wait until its actions end, whatever the result:
ABANDON only skips its remaining hooks.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from tradai_sim.cloud.scheduler.event import iso_z

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
_DETAIL_TYPE = {LAUNCHING: "EC2 Instance-launch Lifecycle Action",
                TERMINATING: "EC2 Instance-terminate Lifecycle Action"}


class NoActiveAction(LookupError):
    pass


@dataclass
class LifecycleAction:
    token: str
    group: str
    hook: str
    instance_id: str
    transition: str
    heartbeat_timeout: int  # wall seconds (it bounds the hook's action)
    default_result: str
    metadata: str | None
    deadline: float  # simulated epoch seconds

    def describe(self) -> dict[str, Any]:
        return {"token": self.token, "group": self.group, "hook": self.hook,
                "instance": self.instance_id, "deadline": self.deadline,
                "deadline_iso": iso_z(self.deadline)}


def target_lambda(metadata: str | None) -> str | None:
    """The local convention: the hook's NotificationMetadata names the Lambda to invoke."""
    try:
        value = json.loads(metadata or "")
    except ValueError:
        return None
    return value.get("target_lambda") if isinstance(value, dict) else None


def lifecycle_event(action: LifecycleAction, group_arn: str, sim_ts: float, account: str,
                    region: str) -> dict[str, Any]:
    """The EventBridge "EC2 Instance-launch / Instance-terminate Lifecycle Action" event."""
    detail: dict[str, Any] = {
        "LifecycleActionToken": action.token,
        "AutoScalingGroupName": action.group,
        "LifecycleHookName": action.hook,
        "EC2InstanceId": action.instance_id,
        "LifecycleTransition": action.transition,
        "Origin": "EC2",
        "Destination": "AutoScalingGroup",
    }
    if action.metadata is not None:
        detail["NotificationMetadata"] = action.metadata
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": _DETAIL_TYPE[action.transition],
        "source": "aws.autoscaling",
        "account": account,
        "time": iso_z(sim_ts),
        "region": region,
        "resources": [group_arn],
        "detail": detail,
    }


class PendingActions:
    """Open actions by token; callers hold the controller's lock."""

    def __init__(self) -> None:
        self.by_token: dict[str, LifecycleAction] = {}

    def open(self, group: str, hook: Any, instance_id: str, now: float,
             scale: float = 1.0) -> LifecycleAction:
        """``scale``: the clock's; the heartbeat timeout bounds the hook's action (a Lambda's
        work, in wall seconds), so it runs in wall time: ``scale`` simulated s per second."""
        action = LifecycleAction(
            token=str(uuid.uuid4()), group=group, hook=hook.name, instance_id=instance_id,
            transition=hook.lifecycle_transition, heartbeat_timeout=int(hook.heartbeat_timeout),
            default_result=hook.default_result,
            metadata=getattr(hook, "notification_metadata", None),
            deadline=now + int(hook.heartbeat_timeout) * scale)
        self.by_token[action.token] = action
        return action

    def find(self, group: str, hook: str, token: str | None,
             instance_id: str | None) -> LifecycleAction:
        for a in self.by_token.values():
            if a.group == group and a.hook == hook and (
                    a.token == token if token else a.instance_id == instance_id):
                return a
        what = f"token {token}" if token else f"instance ID {instance_id}"
        raise NoActiveAction(f"No active Lifecycle Action found with {what}")

    def close(self, action: LifecycleAction) -> None:
        self.by_token.pop(action.token, None)

    def for_instance(self, instance_id: str) -> list[LifecycleAction]:
        return [a for a in self.by_token.values() if a.instance_id == instance_id]

    def drop_instance(self, instance_id: str) -> None:
        for a in self.for_instance(instance_id):
            self.close(a)
