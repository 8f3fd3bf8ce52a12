"""The load balancing of the stack's services: one place for both sides.

The Pulumi program (``infra/tradai_infra/compute.py``) creates each load-balanced service's
target group and passes the grace period to the ECS service from these values; the local
bootstrap creates the same target groups in the emulator, and the ALB stand-in reads the health
check back from the target group (DescribeTargetGroups).
"""

from __future__ import annotations

from typing import Any

HEALTH_CHECK_MATCHER = "200"
HEALTH_CHECK_INTERVAL_SECONDS = 15  # simulated: waiting between checks
HEALTH_CHECK_TIMEOUT_SECONDS = 5  # ELBv2's default for an HTTP target group of type ip
HEALTHY_THRESHOLD = 2
UNHEALTHY_THRESHOLD = 3
DEREGISTRATION_DELAY_SECONDS = 30  # simulated: the target drains
# ECS healthCheckGracePeriodSeconds: how long a new task's failing health checks are ignored.
# It must cover the slowest start, MLflow's first one, which creates its database tables
# (40-60 s on a loaded 2-core machine): with 60 s the local cloud saw ECS replace MLflow in
# the middle of its migration, again and again. The local cloud counts it in wall seconds (it
# bounds start-up work).
HEALTH_CHECK_GRACE_PERIOD_SECONDS = 300


def target_group_settings(health_path: str, port: int) -> dict[str, Any]:
    """CreateTargetGroup's parameters besides the name and VPC."""
    return {
        "Protocol": "HTTP", "Port": port, "TargetType": "ip",
        "HealthCheckProtocol": "HTTP", "HealthCheckPath": health_path,
        "HealthCheckIntervalSeconds": HEALTH_CHECK_INTERVAL_SECONDS,
        "HealthCheckTimeoutSeconds": HEALTH_CHECK_TIMEOUT_SECONDS,
        "HealthyThresholdCount": HEALTHY_THRESHOLD,
        "UnhealthyThresholdCount": UNHEALTHY_THRESHOLD,
        "Matcher": {"HttpCode": HEALTH_CHECK_MATCHER},
    }


def target_group_attributes() -> list[dict[str, str]]:
    return [{"Key": "deregistration_delay.timeout_seconds",
             "Value": str(DEREGISTRATION_DELAY_SECONDS)}]
