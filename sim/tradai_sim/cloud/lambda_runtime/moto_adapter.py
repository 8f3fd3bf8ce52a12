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

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.core.exceptions import JsonRESTError

from tradai_sim.cloud.event_sources.validation import sqs_mapping_problem
from tradai_sim.cloud.lambda_runtime.invoker import Invoker
from tradai_sim.cloud.lambda_runtime.runtime import FunctionConfig, NoSubnetAvailable, Throttled

_invoker: Invoker | None = None


def install_invoker(invoker: Invoker) -> None:
    global _invoker
    _invoker = invoker


def function_config(fn: Any) -> FunctionConfig:
    """A snapshot of a moto ``LambdaFunction``'s configuration."""
    reserved = fn.reserved_concurrency
    configs = getattr(fn, "event_invoke_config", None) or []
    async_cfg: dict[str, Any] = configs[-1].config if configs else {}
    destinations = async_cfg.get("DestinationConfig") or {}
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
        max_retry_attempts=int(async_cfg.get("MaximumRetryAttempts", 2)),
        max_event_age=int(async_cfg.get("MaximumEventAgeInSeconds", 21600)),
        on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
        on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
        dead_letter=(getattr(fn, "dead_letter_config", None) or {}).get("TargetArn") or None,
    )


class Ec2Unexpected(JsonRESTError):
    code = 502

    def __init__(self, message: str) -> None:
        super().__init__("EC2UnexpectedException", message)


class TooManyRequests(JsonRESTError):
    """AWS's throttle answer: HTTP 429 with the limit that was hit in ``Reason``."""

    code = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__("TooManyRequestsException", message)
        self.description = json.dumps({"__type": "TooManyRequestsException", "Type": "User",
                                       "message": message, "Reason": reason})


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
        raise TooManyRequests(str(exc), exc.reason) from exc
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
        from moto.sqs.models import sqs_backends

        source = spec.get("EventSourceArn") or ""
        problem = sqs_mapping_problem(source, spec.get("BatchSize"),
                                      spec.get("MaximumBatchingWindowInSeconds"))
        if problem is None and ":sqs:" in source:
            problem = _visibility_problem(self, sqs_backends, spec.get("FunctionName"), source)
        if problem:
            raise InvalidParameterValueException(problem)
        esm = original(self, spec)

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    return create


def _visibility_problem(backend: Any, sqs_backends: Any, function: str | None,
                        queue_arn: str) -> str | None:
    """"Your function's timeout must be less than or equal to the queue's visibility timeout.
    Lambda validates this requirement when you create or update an event source mapping"
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); the message
    is the one Lambda answers."""
    try:
        timeout = int(backend.get_function(function).timeout)
        queue = sqs_backends[backend.account_id][backend.region_name].queues[
            queue_arn.rsplit(":", 1)[1]]
    except Exception:
        return None  # an unknown function or queue is moto's own error to report
    visibility = int(queue.visibility_timeout)
    if visibility < timeout:
        return (f"Queue visibility timeout: {visibility} seconds is less than Function "
                f"timeout: {timeout} seconds")
    return None


def update_event_source_mapping(original: Any) -> Any:
    """Wraps ``LambdaBackend.update_event_source_mapping``: the mapping as it would be after
    the update must be valid, as Lambda checks (moto stores any batch size and window)."""

    def update(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
        esm = self.get_event_source_mapping(uuid)
        if esm is not None:
            problem = sqs_mapping_problem(
                esm.event_source_arn, spec.get("BatchSize", esm.batch_size),
                spec.get("MaximumBatchingWindowInSeconds", esm.max_batch_window))
            if problem:
                raise InvalidParameterValueException(problem)
        return original(self, uuid, spec)

    return update


def lambda_function_init(original: Any) -> Any:
    """Wraps ``LambdaFunction.__init__``: keep DeadLetterConfig (moto drops it)."""

    def init(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original(self, account_id, spec, *args, **kwargs)
        self.dead_letter_config = spec.get("DeadLetterConfig") or None

    return init


def lambda_function_update_configuration(original: Any) -> Any:
    """Wraps ``LambdaFunction.update_configuration``: UpdateFunctionConfiguration may set or
    clear (empty TargetArn) the dead-letter target."""

    def update(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "DeadLetterConfig" in config_updates:
            dlc = config_updates["DeadLetterConfig"] or {}
            self.dead_letter_config = dlc if dlc.get("TargetArn") else None
        return original(self, config_updates)

    return update


def lambda_function_get_configuration(original: Any) -> Any:
    """Wraps ``LambdaFunction.get_configuration``: report DeadLetterConfig, as AWS does."""

    def get(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original(self, *args, **kwargs)
        dlc = getattr(self, "dead_letter_config", None)
        if dlc:
            config["DeadLetterConfig"] = dlc
        return config

    return get


def put_function_event_invoke_config(original: Any) -> Any:
    """Wraps ``LambdaBackend.put_function_event_invoke_config``: AWS's Put replaces the
    configuration; moto appends and keeps reporting the first one."""

    def put(self: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        self.get_function(function_name).event_invoke_config = []
        return original(self, function_name, config)

    return put


def update_function_event_invoke_config(original: Any) -> Any:
    """Wraps ``LambdaBackend.update_function_event_invoke_config``: AWS's Update changes only
    the settings given; moto replaces the whole configuration."""

    def update(self: Any, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
        current = self.get_function(function_name).event_invoke_config
        merged = {**(current[-1].config if current else {}), **config}
        return original(self, function_name, merged)

    return update


def new_request_id() -> str:
    return str(uuid4())
