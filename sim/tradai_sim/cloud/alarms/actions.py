"""An alarm's actions for its new state: SNS topics get AWS's notification. Other actions
(Auto Scaling policies, EC2 actions, Systems Manager) are not executed locally; the alarm's
history says so, as AWS's says when an action fails."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tradai_sim.cloud.alarms.history import HistoryItem, action_item

log = logging.getLogger(__name__)

# (topic ARN, subject, message) -> message id
Publish = Callable[[str, str, str], str]


def is_sns(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 6 and parts[2] == "sns"


def run(alarm_name: str, actions: tuple[str, ...], subject: str, message: str, at: float,
        publish: Publish) -> list[HistoryItem]:
    items = []
    for arn in actions:
        if not is_sns(arn):
            items.append(action_item(alarm_name, at, arn, False,
                                     "only SNS actions are executed by the local cloud"))
            continue
        try:
            message_id = publish(arn, subject, message)
        except Exception as exc:  # a deleted topic: AWS records the failure and moves on
            log.warning("alarm %s: publishing to %s failed: %s", alarm_name, arn, exc)
            items.append(action_item(alarm_name, at, arn, False, f"{type(exc).__name__}: {exc}"))
            continue
        items.append(action_item(alarm_name, at, arn, True, f"message {message_id}"))
    return items
