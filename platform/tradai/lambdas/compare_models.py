"""compare-models (Retraining Workflow): ``action`` submit (the champion's and the challenger's
backtests on one window, through the backtest queue), poll (both finished?) and decide (the
margin rule; a kept champion ends the run) -- ``tradai.retraining.steps.Comparison``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from tradai.backtests.queue import BacktestQueue
from tradai.backtests.service import BacktestService, SubmissionPolicy
from tradai.backtests.store import TicketStore
from tradai.retraining import wiring
from tradai.retraining.steps import Comparison, RegistryVersions
from tradai.settings import aws_client

logger = Logger(service="compare-models")
ACTIONS = ("submit", "poll", "decide")


@lru_cache(maxsize=1)
def comparison() -> Comparison:
    s = wiring.settings()
    tickets = TicketStore(aws_client("dynamodb"), s.tickets, wiring.clock())
    service = BacktestService(tickets, BacktestQueue(aws_client("sqs"),
                                                     s.require_backtest_queue_url()),
                              wiring.registry(), wiring.clock(), SubmissionPolicy())
    return Comparison(service, tickets, RegistryVersions(wiring.registry().client),
                      wiring.runs(), wiring.clock())


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    result: dict[str, Any] = getattr(comparison(), str(action))(event)
    logger.info(f"comparison {action}", extra={"run_id": event.get("run_id"), **result})
    return result
