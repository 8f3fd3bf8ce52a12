"""trading-heartbeat-check (scheduled, rate 1 minute): mark sessions whose heartbeat is older
than 3 minutes STALE with one alert per incident, and announce their recovery."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.settings import aws_client
from tradai.trading.monitor import HeartbeatMonitor, MonitorSettings

logger = Logger(service="trading-heartbeat-check")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = MonitorSettings()
    monitor = HeartbeatMonitor(aws_client("dynamodb"), settings.table, aws_client("sns"),
                               settings.topic(), aws_client("cloudwatch"), default_clock())
    report = asdict(monitor.check())
    logger.info("heartbeat check", extra=report)
    if report["errors"]:
        # A failed invocation is retried (asynchronous invocation); what was announced stays.
        raise RuntimeError(f"heartbeat check incomplete: {report['errors']}")
    return report
