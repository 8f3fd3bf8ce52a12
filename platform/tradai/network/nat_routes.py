"""Point the private subnets' default routes at a (new) NAT instance.

A NAT instance forwards traffic that is not addressed to it, so its source/destination check
must be off; then every private route table's 0.0.0.0/0 route is replaced (or created, for a
table that never had one) to target the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True)
class RouteChange:
    route_table_id: str
    previous_target: str | None
    instance_id: str


def repoint_default_routes(ec2: Any, route_table_ids: list[str],
                           instance_id: str) -> list[RouteChange]:
    ec2.modify_instance_attribute(InstanceId=instance_id, SourceDestCheck={"Value": False})
    changes = []
    tables = ec2.describe_route_tables(RouteTableIds=route_table_ids)["RouteTables"]
    for table in tables:
        rt_id = table["RouteTableId"]
        current = next((r for r in table.get("Routes", [])
                        if r.get("DestinationCidrBlock") == DEFAULT_ROUTE), None)
        previous = (current or {}).get("InstanceId") or (current or {}).get("NatGatewayId")
        if current is None:
            ec2.create_route(RouteTableId=rt_id, DestinationCidrBlock=DEFAULT_ROUTE,
                             InstanceId=instance_id)
        elif previous != instance_id:
            ec2.replace_route(RouteTableId=rt_id, DestinationCidrBlock=DEFAULT_ROUTE,
                              InstanceId=instance_id)
        changes.append(RouteChange(rt_id, previous, instance_id))
    return changes


def complete_launch(autoscaling: Any, detail: dict[str, Any], result: str = "CONTINUE") -> None:
    """Let the instance go InService (CONTINUE) or have the group replace it (ABANDON)."""
    try:
        autoscaling.complete_lifecycle_action(
            LifecycleHookName=detail["LifecycleHookName"],
            AutoScalingGroupName=detail["AutoScalingGroupName"],
            LifecycleActionToken=detail["LifecycleActionToken"],
            LifecycleActionResult=result,
        )
    except ClientError as exc:
        # The action already timed out or was completed: nothing is waiting on us.
        if exc.response["Error"]["Code"] != "ValidationError":
            raise
