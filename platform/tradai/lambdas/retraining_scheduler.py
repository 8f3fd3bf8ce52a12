"""retraining-scheduler (daily): queue a retraining run for each model-driven champion that is
drifting or older than the maximum age (``tradai.retraining.requests``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger

from tradai.retraining import wiring
from tradai.retraining.requests import DriftTable, RetrainingScheduler, RunQueue
from tradai.settings import aws_client

logger = Logger(service="retraining-scheduler")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    s = wiring.settings()
    scheduler = RetrainingScheduler(
        wiring.registry(), DriftTable(aws_client("dynamodb"), s.drift),
        RunQueue(wiring.runs(), aws_client("sqs"), s.require_queue_url(), wiring.clock()),
        wiring.clock(), s.max_model_age_days)
    report = asdict(scheduler.run())
    logger.info("retraining schedule", extra=report)
    if report["errors"]:  # retried by Lambda's asynchronous invocation; queued runs stay once
        raise RuntimeError(f"retraining schedule incomplete: {report['errors']}")
    return report
