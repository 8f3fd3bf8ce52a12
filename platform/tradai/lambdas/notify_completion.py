"""notify-completion (Backtest Workflow): publish the job's outcome to the notifications topic.

Runs outside the VPC in AWS; reads the job item only for the message's content.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.settings import aws_client
from tradai.workflows.notify import message, publish
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.status import JobStatusStore

logger = Logger(service="notify-completion")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = WorkflowSettings()
    if not settings.notifications_topic:
        logger.warning("no notifications topic configured; nothing sent")
        return {"job_id": event["job_id"], "sent": False}
    if event.get("kind") == "retraining":  # the run's outcome, from the workflow's input
        body = {"job_id": event["job_id"], "status": event.get("status", "COMPLETED"),
                "kind": "retraining", "strategy": event.get("model_name"),
                "requested_at": event.get("requested_at")}
        message_id = publish(aws_client("sns"), settings.notifications_topic, body)
        return {"job_id": event["job_id"], "sent": True, "message_id": message_id}
    store = JobStatusStore(aws_client("dynamodb"), settings.table, default_clock())
    body = message(event["job_id"], event.get("status", "COMPLETED"), store.get(event["job_id"]))
    message_id = publish(aws_client("sns"), settings.notifications_topic, body)
    logger.info("notification sent", extra={"job_id": event["job_id"], "message_id": message_id})
    return {"job_id": event["job_id"], "sent": True, "message_id": message_id}
