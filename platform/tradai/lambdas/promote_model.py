"""promote-model (Retraining Workflow): move the champion alias to the challenger through
``tradai.registry.promotion`` (an audit record, actor: the workflow); the run COMPLETED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.retraining import wiring
from tradai.retraining.steps import promote

logger = Logger(service="promote-model")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = promote(wiring.promotion(), wiring.runs(), wiring.clock(), event)
    logger.info("challenger promoted", extra={"run_id": event.get("run_id"), **result})
    return result
