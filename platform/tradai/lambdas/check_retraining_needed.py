"""check-retraining-needed (Retraining Workflow): is the run still needed (and the only one of
its strategy running); its champion, the training and comparison windows; the run marked
RUNNING (``tradai.retraining.steps``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.retraining import wiring
from tradai.retraining.requests import DriftTable
from tradai.retraining.steps import CheckRetraining
from tradai.settings import aws_client

logger = Logger(service="check-retraining-needed")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    s = wiring.settings()
    check = CheckRetraining(wiring.registry(), DriftTable(aws_client("dynamodb"), s.drift),
                            wiring.runs(), wiring.clock(), s, aws_client("stepfunctions"))
    result = check.check(event)
    logger.info("retraining check", extra={"run_id": event.get("run_id"), **result})
    return result
