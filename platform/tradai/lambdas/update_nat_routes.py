"""update-nat-routes: when the NAT group launches an instance, route private egress through it.

Triggered by the Auto Scaling launch lifecycle hook (via EventBridge). Raising lets Lambda's
async retries try again; if they all fail, the hook times out and the group abandons the
instance and launches another.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from tradai.network.nat_routes import complete_launch, repoint_default_routes
from tradai.settings import aws_client

logger = Logger(service="update-nat-routes")
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: Any) -> dict[str, Any]:
    detail = event.detail
    if detail.get("LifecycleTransition") != LAUNCHING:
        return {"status": "ignored", "reason": f"not a launch: {detail.get('LifecycleTransition')}"}
    instance_id = detail["EC2InstanceId"]
    route_tables = json.loads(os.environ["TRADAI_PRIVATE_ROUTE_TABLES"])
    changes = repoint_default_routes(aws_client("ec2"), route_tables, instance_id)
    complete_launch(aws_client("autoscaling"), detail)
    logger.info("private routes now use %s", instance_id,
                extra={"changes": [c.__dict__ for c in changes]})
    return {"status": "routed", "instance_id": instance_id,
            "route_tables": [c.route_table_id for c in changes]}
