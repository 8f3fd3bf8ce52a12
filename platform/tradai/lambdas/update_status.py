"""update-status (Backtest Workflow): move the job's status in the workflow-state table."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.settings import aws_client
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.status import JobStatusStore
from tradai.workflows.updates import apply

logger = Logger(service="update-status")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = WorkflowSettings()
    store = JobStatusStore(aws_client("dynamodb"), settings.table, default_clock(),
                           settings.ttl_days)
    outcome = apply(store, event)
    logger.info("job status", extra=outcome)
    return outcome
