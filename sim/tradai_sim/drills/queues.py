"""Queues as a drill sees them: depth, DLQ replay (SQS message move tasks, the same calls
`tradai dlq replay` makes) and the alarm notifications about them."""

from __future__ import annotations

from typing import Any

from tradai_sim.drills.context import DrillContext


def url(ctx: DrillContext, queue: str) -> str:
    return str(ctx.client("sqs").get_queue_url(QueueName=ctx.name(queue))["QueueUrl"])


def arn(ctx: DrillContext, queue: str) -> str:
    attrs = ctx.client("sqs").get_queue_attributes(QueueUrl=url(ctx, queue),
                                                   AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def depth(ctx: DrillContext, queue: str) -> int:
    attrs = ctx.client("sqs").get_queue_attributes(QueueUrl=url(ctx, queue), AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"])


def replay(ctx: DrillContext, queue: str, rate: int | None) -> dict[str, Any]:
    """Back to each message's source queue (no DestinationArn), as AWS's redrive does."""
    kwargs: dict[str, Any] = {"SourceArn": arn(ctx, queue)}
    if rate:
        kwargs["MaxNumberOfMessagesPerSecond"] = rate
    handle = ctx.client("sqs").start_message_move_task(**kwargs)["TaskHandle"]
    return {"handle": handle}


def move_task(ctx: DrillContext, queue: str, handle: str) -> dict[str, Any]:
    """Our move task: AWS lists the handle only while it runs, newest task first."""
    tasks = ctx.client("sqs").list_message_move_tasks(SourceArn=arn(ctx, queue),
                                                      MaxResults=10)["Results"]
    mine = next((t for t in tasks if t.get("TaskHandle") == handle), None)
    return dict(mine or (tasks[0] if tasks else {"Status": "RUNNING"}))


def alarm_notifications(ctx: DrillContext, alarm_name: str, state: str) -> int:
    """SNS messages published since the drill started for this alarm's ``state``."""
    published = ctx.control(f"/sns/published?since={ctx.started_at}").get("messages", [])
    prefix = f'{state}: "{alarm_name}"'
    return sum(1 for m in published if (m.get("subject") or "").startswith(prefix))
