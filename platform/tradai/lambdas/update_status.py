"""update-status (Backtest Workflow): move the job's status in the workflow-state table; a final
status (the success path and every failure path end here) frees the job's backtest slot.
In the Retraining workflow (``kind: retraining``) it records a failed run FAILED with its
reason in retraining-state (``tradai.retraining.steps.failed``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.settings import aws_client
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.slots import lease_from
from tradai.workflows.status import TERMINAL, JobStatusStore
from tradai.workflows.updates import apply, release_slot

logger = Logger(service="update-status")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("kind") == "retraining":  # the table only: no registry client to import
        from tradai.retraining.runs import RunStore
        from tradai.retraining.settings import RetrainingSettings
        from tradai.retraining.steps import failed

        s = RetrainingSettings()
        outcome = failed(RunStore(aws_client("dynamodb"), s.runs, s.ttl_days), default_clock(),
                         event)
        logger.info("retraining run failed", extra=outcome)
        return outcome
    settings = WorkflowSettings()
    store = JobStatusStore(aws_client("dynamodb"), settings.table, default_clock(),
                           settings.ttl_days)
    outcome = apply(store, event)
    if outcome["status"] in TERMINAL:
        outcome["slots_freed"] = release_slot(
            lease_from(settings, aws_client("dynamodb"), default_clock()), outcome["job_id"])
    logger.info("job status", extra=outcome)
    return outcome
