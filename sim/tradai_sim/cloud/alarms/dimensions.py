"""How the local ALB and its target groups are named in CloudWatch dimensions.

AWS names them by ARN suffix: ``app/NAME/ID`` for the load balancer and
``targetgroup/NAME/ID`` for a target group. The names are the Pulumi program's
(``tg-<service>``, cut to 32 characters, and ``alb``); the ID is derived from the name, so the
bootstrap's alarms and the metrics published here agree without a lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from tradai.topology.model import Alarm

TARGET_GROUP_NAME_LIMIT = 32


def _id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def target_group_name(physical: Callable[[str], str], service: str) -> str:
    return physical(f"tg-{service}")[:TARGET_GROUP_NAME_LIMIT]


def target_group(physical: Callable[[str], str], service: str) -> str:
    name = target_group_name(physical, service)
    return f"targetgroup/{name}/{_id(name)}"


def load_balancer(physical: Callable[[str], str]) -> str:
    name = physical("alb")
    return f"app/{name}/{_id(name)}"


def target_group_dimensions(physical: Callable[[str], str],
                            service: str) -> tuple[tuple[str, str], ...]:
    return (("TargetGroup", target_group(physical, service)),
            ("LoadBalancer", load_balancer(physical)))


def alarm_dimensions(physical: Callable[[str], str], alarm: Alarm) -> list[dict[str, str]]:
    """The Dimensions of a spec alarm, as PutMetricAlarm takes them."""
    if alarm.queue is not None:
        pairs: tuple[tuple[str, str], ...] = (("QueueName", physical(alarm.queue)),)
    else:
        assert alarm.target_group is not None  # the spec loader requires one of the two
        pairs = target_group_dimensions(physical, alarm.target_group)
    return [{"Name": n, "Value": v} for n, v in pairs]
