"""Wiring between moto's Lambda service and our runtime: the replaced invoke paths.

Each function here is installed by ``tradai_sim.cloud.moto_patches`` (the one record of what
is patched in moto).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from moto.core.exceptions import JsonRESTError

from tradai_sim.cloud.lambda_runtime.invoker import Invoker
from tradai_sim.cloud.lambda_runtime.runtime import FunctionConfig, NoSubnetAvailable, Throttled

_invoker: Invoker | None = None


def install_invoker(invoker: Invoker) -> None:
    global _invoker
    _invoker = invoker


def function_config(fn: Any) -> FunctionConfig:
    """A snapshot of a moto ``LambdaFunction``'s configuration."""
    reserved = fn.reserved_concurrency
    return FunctionConfig(
        name=fn.function_name,
        arn=fn.function_arn,
        handler=fn.handler,
        timeout=int(fn.timeout),
        memory=int(fn.memory_size),
        environment=dict(fn.environment_vars or {}),
        code=getattr(fn, "code_bytes", b"") or b"",
        code_sha=fn.code_sha_256 or "",
        reserved_concurrency=int(reserved) if reserved not in (None, "") else None,
        subnets=tuple((fn._vpc_config or {}).get("SubnetIds") or ()),
        role=fn.role or "",
    )


class Ec2Unexpected(JsonRESTError):
    code = 502

    def __init__(self, message: str) -> None:
        super().__init__("EC2UnexpectedException", message)


class TooManyRequests(JsonRESTError):
    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)


def lambda_function_invoke(
    self: Any, body: str, request_headers: Any, response_headers: Any
) -> str | bytes:
    """Replaces ``LambdaFunction.invoke``: runs the real handler (sync) or queues it (Event)."""
    assert _invoker is not None, "the Lambda invoker is not installed"
    event = json.loads(body) if body else {}
    inv_type = (request_headers or {}).get("x-amz-invocation-type", "RequestResponse")
    if inv_type == "Event":
        _invoker.invoke_async(self.function_arn, event)
        return ""
    if inv_type == "DryRun":
        return ""
    try:
        outcome = _invoker.runtime.invoke(function_config(self), event)
    except Throttled as exc:
        raise TooManyRequests(str(exc)) from exc
    except NoSubnetAvailable as exc:
        raise Ec2Unexpected(str(exc)) from exc
    if outcome.error:
        response_headers["x-amz-function-error"] = "Unhandled"
    if (request_headers or {}).get("x-amz-log-type") == "Tail":
        tail = f"REPORT Duration: {outcome.duration_ms:.2f} ms\n"
        response_headers["x-amz-log-result"] = base64.b64encode(tail.encode()).decode()
    return outcome.payload.encode()


def sns_subscription_publish(original: Any) -> Any:
    """Wraps ``sns.Subscription.publish``: Lambda subscribers are invoked asynchronously."""

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, *args: Any,
                **kwargs: Any) -> None:
        if self.protocol != "lambda":
            return original(self, message, message_id, subject, message_attributes,
                            *args, **kwargs)
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        assert _invoker is not None
        attrs = {
            k: {"Type": v.get("DataType", v.get("Type", "String")),
                "Value": v.get("StringValue", v.get("Value"))}
            for k, v in (message_attributes or {}).items()
        }
        event = {"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": self.arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": self.topic.arn,
                "Subject": subject,
                "Message": message,
                "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "MessageAttributes": attrs,
            },
        }]}
        _invoker.invoke_async(self.endpoint, event)
        return None

    return publish


def create_event_source_mapping(original: Any) -> Any:
    """Wraps ``LambdaBackend.create_event_source_mapping``.

    moto would invoke the function synchronously inside ``send_message`` (no receive count,
    no DLQ). The mapping stays in moto's inventory; our pollers deliver it as AWS does.
    """

    def create(self: Any, spec: dict[str, Any]) -> Any:
        esm = original(self, spec)
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    return create


def new_request_id() -> str:
    return str(uuid4())
