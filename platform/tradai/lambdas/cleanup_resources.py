"""cleanup-resources (the workflows' failure paths): stop the job's strategy tasks; for a
retraining run (``kind: retraining``) its training and strategy-service tasks (group
``retraining:<run id>``), and cancel the comparison backtests it submitted
(``tradai.retraining.abandon``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.backtests.cancel import Canceller
from tradai.backtests.store import TicketStore
from tradai.clock import default_clock
from tradai.retraining.abandon import abandon_comparison
from tradai.retraining.runs import RunStore
from tradai.retraining.settings import RetrainingSettings
from tradai.settings import aws_client
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.status import JobStatusStore

logger = Logger(service="cleanup-resources")
RETRAINING_GROUP = "retraining:"
SERVICE_TASK = "strategy-service-task"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = WorkflowSettings()
    if event.get("kind") != "retraining":
        cleaner = TaskCleaner(aws_client("ecs"), settings.cluster_name,
                              settings.strategy_family)
        stopped = cleaner.stop_job_tasks(event["job_id"], event.get("error"))
        logger.info("job tasks stopped", extra={"job_id": event["job_id"], "stopped": stopped})
        return {"job_id": event["job_id"], "stopped": stopped}
    stopped = [arn for family in (settings.strategy_family, settings.name(SERVICE_TASK))
               for arn in TaskCleaner(aws_client("ecs"), settings.cluster_name, family,
                                      RETRAINING_GROUP).stop_job_tasks(
                                          event["job_id"], event.get("error"))]
    cancelled = abandon_comparison(_runs(), _canceller(settings), event["model_name"],
                                   event["requested_at"]) if event.get("model_name") else {}
    logger.info("run tasks stopped, comparison backtests cancelled",
                extra={"job_id": event["job_id"], "stopped": stopped, "backtests": cancelled})
    return {"job_id": event["job_id"], "stopped": stopped, "backtests": cancelled}


def _runs() -> RunStore:
    s = RetrainingSettings()
    return RunStore(aws_client("dynamodb"), s.runs, s.ttl_days)


def _canceller(settings: WorkflowSettings) -> Canceller:
    """As the backend cancels a backtest: the ticket, then its execution and its task."""
    ddb, clock = aws_client("dynamodb"), default_clock()
    return Canceller(TicketStore(ddb, settings.table, clock),
                     JobStatusStore(ddb, settings.table, clock, settings.ttl_days),
                     aws_client("stepfunctions"),
                     TaskCleaner(aws_client("ecs"), settings.cluster_name,
                                 settings.strategy_family))
