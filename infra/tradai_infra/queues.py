"""SQS queues from the spec: FIFO settings, SSE, and the redrive policy to each DLQ."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from tradai.topology.model import Queue
from tradai_infra.context import Context


def _ordered(queues: list[Queue]) -> list[Queue]:
    """Dead-letter queues first, so a source queue can reference its DLQ's ARN."""
    dlqs = {q.dlq for q in queues if q.dlq}
    return [q for q in queues if q.name in dlqs] + [q for q in queues if q.name not in dlqs]


def build_queues(ctx: Context) -> dict[str, aws.sqs.Queue]:
    created: dict[str, aws.sqs.Queue] = {}
    for spec in _ordered(ctx.topo.queues):
        redrive: pulumi.Input[str] | None = None
        if spec.dlq:
            count = spec.max_receive_count
            redrive = created[spec.dlq].arn.apply(
                lambda arn, n=count: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": n})
            )
        name = ctx.name(spec.name)
        created[spec.name] = aws.sqs.Queue(
            name,
            name=name,
            fifo_queue=spec.fifo,
            content_based_deduplication=spec.content_based_dedup if spec.fifo else None,
            visibility_timeout_seconds=spec.visibility_timeout,
            message_retention_seconds=spec.retention_seconds,
            sqs_managed_sse_enabled=True,
            redrive_policy=redrive,
            tags=ctx.tags,
        )
    return created
