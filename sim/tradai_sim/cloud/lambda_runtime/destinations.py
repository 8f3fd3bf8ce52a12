"""Where a finished asynchronous invocation is recorded: destinations and the function's DLQ.

AWS's formats: an on-success / on-failure destination (SQS, SNS, Lambda, EventBridge) gets an
invocation record (version, timestamp, requestContext with condition, requestPayload,
responseContext, responsePayload); a dead-letter queue or topic gets the event unchanged, with
the message attributes RequestID, ErrorCode (the 3-digit HTTP code) and ErrorMessage (1 KB).
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.lambda_runtime.protocol import Outcome

log = logging.getLogger(__name__)

ERROR_MESSAGE_LIMIT = 1024


@dataclass
class AsyncEvent:
    """One event in a function's asynchronous queue."""

    function: str  # ARN
    payload: Any
    request_id: str
    received_at: float  # simulated epoch seconds: the event age counts from here
    attempts: int = 0  # invocations that ran the function
    backoff: float = 0.0  # current throttle / system-error back-off, simulated seconds
    status: int = 202  # HTTP status of the last attempt (200 with a function error)
    error: str = ""  # the last attempt's error message
    outcome: Outcome | None = None


def invocation_record(ev: AsyncEvent, condition: str, now: float) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": ev.status, "executedVersion": "$LATEST"}
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "requestContext": {"requestId": ev.request_id, "functionArn": f"{ev.function}:$LATEST",
                           "condition": condition, "approximateInvokeCount": ev.attempts},
        "requestPayload": ev.payload,
        "responseContext": response,
    }
    if ev.outcome is not None:
        if ev.outcome.error:
            response["functionError"] = "Unhandled"
        try:
            record["responsePayload"] = json.loads(ev.outcome.payload)
        except ValueError:
            record["responsePayload"] = ev.outcome.payload
    return record


class Recorder:
    """Sends records through the emulator's own APIs, as Lambda's service would."""

    def __init__(self, ctx: CloudContext, invoke_async: Callable[[str, Any], None]) -> None:
        self.ctx = ctx
        self.invoke_async = invoke_async

    def to_destination(self, arn: str, record: dict[str, Any], success: bool) -> None:
        service = arn.split(":")[2]
        body = json.dumps(record)
        try:
            if service == "sqs":
                self._sqs_send(arn, body, {})
            elif service == "sns":
                self.ctx.client("sns").publish(TopicArn=arn, Message=body)
            elif service == "lambda":
                self.invoke_async(arn, record)
            elif service == "events":
                kind = "Success" if success else "Failure"
                self.ctx.client("events").put_events(Entries=[{
                    "Source": "lambda", "EventBusName": arn,
                    "DetailType": f"Lambda Function Invocation Result - {kind}",
                    "Resources": [record["requestContext"]["functionArn"]], "Detail": body}])
            else:
                log.warning("unsupported destination %s for %s", arn, record["requestContext"])
        except Exception as exc:  # AWS counts DestinationDeliveryFailures and drops it
            log.warning("delivering the invocation record to %s failed: %s", arn, exc)

    def to_dead_letter(self, arn: str, ev: AsyncEvent) -> None:
        attrs = {
            "RequestID": {"DataType": "String", "StringValue": ev.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(ev.status)},
            "ErrorMessage": {"DataType": "String",
                             "StringValue": (ev.error or "-")[:ERROR_MESSAGE_LIMIT]},
        }
        body = json.dumps(ev.payload)
        try:
            if arn.split(":")[2] == "sqs":
                self._sqs_send(arn, body, attrs)
            else:
                self.ctx.client("sns").publish(TopicArn=arn, Message=body,
                                               MessageAttributes=attrs)
        except Exception as exc:  # AWS counts DeadLetterErrors and drops it
            log.warning("sending the event to the dead-letter target %s failed: %s", arn, exc)

    def _sqs_send(self, arn: str, body: str, attrs: dict[str, Any]) -> None:
        _, _, _, _, account, name = arn.split(":", 5)
        sqs = self.ctx.client("sqs")
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
