"""Deliver one event to one rule target (Lambda, SQS, Step Functions) through the emulator.

Lambda targets are invoked asynchronously, as EventBridge does. A target whose resource does not
exist is reported, not raised: AWS counts it as a failed invocation and the rule keeps firing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.scheduler.retry import Failure, classify

MISSING = "missing"
DELIVERED = "delivered"
UNSUPPORTED = "unsupported"
FAILED = "failed"


class TargetDelivery:
    def __init__(self, ctx: CloudContext, invoker: Any) -> None:
        self.ctx = ctx
        self.invoker = invoker

    def deliver(self, target: dict[str, Any], payload: Any) -> str:
        return self.attempt(target, payload)[0]

    def attempt(self, target: dict[str, Any], payload: Any) -> tuple[str, Failure | None]:
        """One delivery attempt: its outcome, and why it failed (None when it did not)."""
        arn: str = target["Arn"]
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if service == "lambda":
                return self._lambda(arn, payload), None
            if service == "sqs":
                return self._sqs(arn, target, payload), None
            if service == "states":
                self.ctx.client("stepfunctions").start_execution(
                    stateMachineArn=arn, input=json.dumps(payload))
                return DELIVERED, None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            failure = classify(str(err.get("Code", "")), str(err.get("Message") or exc), status)
            return (MISSING if failure.code == "NO_RESOURCE" else FAILED), failure
        except BotoCoreError as exc:  # the service could not be reached: retried
            return FAILED, Failure("CONNECTION_FAILURE", str(exc), retriable=True)
        return UNSUPPORTED, None

    def _lambda(self, arn: str, payload: Any) -> str:
        # Checked first so a missing function is reported now rather than after async retries.
        self.ctx.client("lambda").get_function(FunctionName=arn)
        self.invoker.invoke_async(arn, payload)
        return DELIVERED

    def _sqs(self, arn: str, target: dict[str, Any], payload: Any) -> str:
        sqs = self.ctx.client("sqs")
        _, _, _, _, account, name = arn.split(":", 5)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        kwargs: dict[str, Any] = {}
        group = target.get("SqsParameters", {}).get("MessageGroupId")
        if name.endswith(".fifo"):
            kwargs = {"MessageGroupId": group or "default",
                      "MessageDeduplicationId": str(uuid.uuid4())}
        # A plain-text input (a text InputTransformer, a schedule's Input) is sent as it is.
        body = payload if isinstance(payload, str) else json.dumps(payload)
        sqs.send_message(QueueUrl=url, MessageBody=body, **kwargs)
        return DELIVERED
