"""cleanup-resources (the workflows' failure paths): stop the job's strategy tasks; for a
retraining run (``kind: retraining``) its training and strategy-service tasks (group
``retraining:<run id>``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.settings import aws_client
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.settings import WorkflowSettings

logger = Logger(service="cleanup-resources")
RETRAINING_GROUP = "retraining:"
SERVICE_TASK = "strategy-service-task"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = WorkflowSettings()
    if event.get("kind") == "retraining":
        stopped = [arn for family in (settings.strategy_family,
                                      settings.name(SERVICE_TASK))
                   for arn in TaskCleaner(aws_client("ecs"), settings.cluster_name, family,
                                          RETRAINING_GROUP).stop_job_tasks(
                                              event["job_id"], event.get("error"))]
    else:
        cleaner = TaskCleaner(aws_client("ecs"), settings.cluster_name,
                              settings.strategy_family)
        stopped = cleaner.stop_job_tasks(event["job_id"], event.get("error"))
    logger.info("job tasks stopped", extra={"job_id": event["job_id"], "stopped": stopped})
    return {"job_id": event["job_id"], "stopped": stopped}
