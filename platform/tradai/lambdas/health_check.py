"""health-check (scheduled, rate 2 minutes): probe every ECS service's health endpoint through
service discovery, record the result, alert on a failure and on recovery."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.health.checker import HealthChecker, HealthSettings
from tradai.health.state import HealthStateStore
from tradai.settings import aws_client
from tradai.topology import default_topology
from tradai.topology.load_balancing import HEALTH_CHECK_GRACE_PERIOD_SECONDS

logger = Logger(service="health-check")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = HealthSettings()
    clock = default_clock()
    checker = HealthChecker(default_topology().services,
                            HealthStateStore(aws_client("dynamodb"), settings.table),
                            aws_client("sns"), settings.topic(), aws_client("cloudwatch"),
                            clock, settings.project, settings.env,
                            timeout=settings.timeout_seconds,
                            # ECS's grace for a starting task covers start-up work: wall seconds
                            start_grace=clock.to_sim(HEALTH_CHECK_GRACE_PERIOD_SECONDS))
    report = checker.check()
    answer = {**asdict(report), "unhealthy": report.unhealthy}
    logger.info("health check", extra=answer)
    if report.errors:
        raise RuntimeError(f"health check incomplete: {report.errors}")
    return answer
