"""The moto side of EventBridge event delivery (patched in ``moto_patches.PATCHES``).

moto raises NotImplementedError for Lambda and Step Functions targets, and lets a rule that has
only a schedule (or is disabled) match every ``put_events``. The patched ``send_to_targets``
skips those rules and hands Lambda / Step Functions targets to the local delivery (Lambda
asynchronously, as EventBridge invokes it; failures retried and dead-lettered per the target's
RetryPolicy and DeadLetterConfig); every other target stays with moto.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tradai_sim.cloud.scheduler.dispatch import Dispatcher
from tradai_sim.cloud.scheduler.event import iso_z, target_input

_delivery: Dispatcher | None = None
_OURS = ("lambda", "states")


def install(delivery: Dispatcher | None) -> None:
    global _delivery
    _delivery = delivery


def _service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 5 else ""


def send_to_targets(original: Callable[..., Any]) -> Callable[..., Any]:
    def send_to_targets(self: Any, original_event: dict[str, Any],
                        transform_input: bool = True) -> None:
        if _delivery is None:
            return original(self, original_event, transform_input)
        schedule_only = self.scheduled_expression and not self.event_pattern.get_pattern()
        if not str(self.state).startswith("ENABLED") or schedule_only:
            return None  # EventBridge never matches events against these
        ours = [t for t in self.targets if _service(t["Arn"]) in _OURS]
        if ours and self.event_pattern.matches_event(original_event):
            event = {k: v for k, v in original_event.items() if k != "ingestion-time"}
            when = event.get("time")
            if isinstance(when, datetime):
                event["time"] = iso_z(when.timestamp())
            elif isinstance(when, int | float):
                event["time"] = iso_z(float(when))
            for target in ours:
                payload = target_input(target, event) if transform_input else event
                _delivery.send(self.arn, target, payload, event)
        rest = [t for t in self.targets if _service(t["Arn"]) not in _OURS]
        if rest:
            # A shallow copy with moto's targets only: the shared rule is never mutated.
            shadow = copy.copy(self)
            shadow.targets = rest
            original(shadow, original_event, transform_input)
        return None

    return send_to_targets
