"""The moto side of DLQ redrive (patched in ``moto_patches.PATCHES``).

* ``SQSResponse.call_action``: StartMessageMoveTask, ListMessageMoveTasks and
  CancelMessageMoveTask (JSON protocol, ``X-Amz-Target: AmazonSQS.<Operation>``) are served by
  the part's ``MoveTaskService``; errors go out in SQS's JSON error shape. Until the part runs
  they are what moto ships (not implemented).
* ``Queue.add_message``: a message arriving from another queue is a move by that queue's
  redrive policy (moto's receive path, after maxReceiveCount). SQS then remembers the source
  queue (the message's DeadLetterQueueSourceArn, where redrive returns it by default) and, in
  a FIFO dead-letter queue, replaces the deduplication id with the message id: "When a message
  is moved from a FIFO queue to a FIFO DLQ, the original message's deduplication ID will be
  replaced with the original message's ID"
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html).
* ``SQSResponse.receive_message``: ``DeadLetterQueueSourceArn`` among the message system
  attributes, as ReceiveMessage documents it; moto does not know the attribute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tradai_sim.cloud.sqs_redrive.api import OPERATIONS, MoveTaskService
from tradai_sim.cloud.sqs_redrive.errors import MoveTaskError

log = logging.getLogger(__name__)
SOURCE_ATTRIBUTE = "DeadLetterQueueSourceArn"

_service: MoveTaskService | None = None


def install(service: MoveTaskService | None) -> None:
    global _service
    _service = service


def call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(self: Any) -> Any:
        service = _service
        operation = self._get_action()
        if service is None or operation not in OPERATIONS:
            return original(self)
        params = {name: self._get_param(name) for name in (
            "SourceArn", "DestinationArn", "MaxNumberOfMessagesPerSecond", "MaxResults",
            "TaskHandle")}
        try:
            return _answer(self, service.handle(operation, params))
        except MoveTaskError as exc:
            return _error(self, exc)

    return call_action


def _answer(response: Any, result: dict[str, Any]) -> Any:
    from moto.core.responses import ActionResult

    status, headers, body = response.serialized(ActionResult(result))
    headers, body = response._enrich_response(headers, body)
    return status, headers, body


def _error(response: Any, exc: MoveTaskError) -> Any:
    from moto.core.responses import ActionResult
    from moto.sqs.exceptions import SQSException

    _, headers, body = response.serialized(ActionResult(SQSException(exc.code,
                                                                      exc.message)))
    headers, body = response._enrich_response(headers, body)
    return exc.status, headers, body


def queue_add_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def add_message(self: Any, message: Any) -> None:
        previous = getattr(message, "tradai_queue_arn", None)
        if previous is not None and previous != self.queue_arn:
            message.tradai_dlq_source_arn = previous
            if self.fifo_queue:
                message.deduplication_id = message.id
        message.tradai_queue_arn = self.queue_arn
        return original(self, message)

    return add_message


def receive_message(original: Callable[..., Any]) -> Callable[..., Any]:
    def receive_message(self: Any) -> Any:
        result = original(self)
        wanted = set(self._get_param("AttributeNames", []) or []) | set(
            self._get_param("MessageSystemAttributeNames", []) or [])
        if not wanted & {"All", SOURCE_ATTRIBUTE}:
            return result
        messages = (getattr(result, "result", None) or {}).get("Messages") or []
        if messages:
            _add_sources(self.sqs_backend.get_queue(self._get_queue_name()), messages)
        return result

    return receive_message


def _add_sources(queue: Any, messages: list[dict[str, Any]]) -> None:
    by_id = getattr(queue._messages, "by_id", None)  # sqs_index: a lookup, not a scan
    if by_id is None:
        found = {m.id: m for m in list(queue._messages)}
        by_id = found.get
    for msg in messages:
        source = getattr(by_id(msg["MessageId"]), "tradai_dlq_source_arn", None)
        if source:
            msg.setdefault("Attributes", {})[SOURCE_ATTRIBUTE] = source
