"""model-rollback: return a strategy's alias to its previous version, with an audit record of
who and why; refused with a reason (unknown strategy, nothing to roll back to) as an answer
(``tradai.retraining.rollback``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.retraining import wiring
from tradai.retraining.rollback import rollback

logger = Logger(service="model-rollback")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = rollback(wiring.promotion(), event)
    logger.info("model rollback", extra={k: v for k, v in result.items() if k != "event"})
    return result
