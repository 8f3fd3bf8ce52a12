"""SQS event-source mappings with AWS semantics.

For every enabled mapping, pollers receive up to ``BatchSize`` messages, invoke the function
synchronously with an ``aws:sqs`` event, delete the batch on success, delete only the successes
when the function reports ``batchItemFailures`` (with ReportBatchItemFailures on), and leave
the rest alone: they return after the visibility timeout with their receive count raised, and
the queue's redrive policy moves them to the DLQ after maxReceiveCount receives. FIFO order is
the queue's: a message group with messages in flight is not delivered again until they settle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.lambda_runtime.invoker import Invoker
from tradai_sim.cloud.lambda_runtime.runtime import Throttled

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0  # how often mappings are re-read (wall)
LONG_POLL_SECONDS = 1  # receive wait (wall); short so that stop() is prompt
DEFAULT_POLLERS = 2
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # a synchronous invocation's payload limit
_RECEIVED = "_received_wall"  # where a received message keeps its receive time (monotonic)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    records = []
    for m in messages:
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                    "stringListValues": [], "binaryListValues": [],
                    "dataType": v.get("DataType")}
                for k, v in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        })
    return {"Records": records}


def failed_ids(response_payload: str, batch_ids: set[str]) -> set[str] | None:
    """The ids a partial-batch response reports failed; None means "the whole batch failed".

    AWS treats a malformed response (unknown or empty identifier) as a failure of the batch.
    """
    try:
        body = json.loads(response_payload)
    except ValueError:
        return set()
    if not isinstance(body, dict) or body.get("batchItemFailures") is None:
        return set()
    failures = body["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    ids = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            return None
        ids.add(ident)
    return ids


class QueuePoller:
    """Polls one queue for one mapping.

    Time model: messages are received with the queue's visibility timeout, which SQS counts in
    wall seconds, so a message is never redelivered while its invocation still runs (AWS's
    "visibility >= 6 x function timeout" holds in the clock the work runs in). When the
    invocation fails or is throttled, the rest of each kept message's timeout is waiting, so
    it passes in simulated time: its visibility becomes the rest divided by the time scale.
    """

    def __init__(self, ctx: CloudContext, invoker: Invoker, mapping: dict[str, Any]) -> None:
        self.ctx = ctx
        self.invoker = invoker
        self.uuid = mapping["UUID"]
        self.function_arn = mapping["FunctionArn"]
        self.queue_arn = mapping["EventSourceArn"]
        self.settings = mapping_settings(mapping)
        self.batch_size, self.window, self.partial, self.pollers = self.settings
        if self.queue_arn.endswith(".fifo"):
            self.window = 0  # no batching window on FIFO queues (refused at creation)
        sqs = ctx.client("sqs")
        name = self.queue_arn.rsplit(":", 1)[1]
        self.queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self.visibility = 30
        self.refresh_visibility(sqs)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered = 0
        self.deleted = 0
        self.failed_batches = 0
        self.throttled_batches = 0

    def refresh_visibility(self, sqs: Any | None = None) -> None:
        """The queue's VisibilityTimeout attribute (wall seconds in SQS); kept as it was when
        the queue cannot be read (deleted, emulator restarting)."""
        try:
            sqs = sqs or self.ctx.client("sqs")
            attrs = sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                             AttributeNames=["VisibilityTimeout"])["Attributes"]
            self.visibility = int(attrs.get("VisibilityTimeout", self.visibility))
        except Exception as exc:
            log.debug("reading the visibility timeout of %s failed: %s", self.queue_arn, exc)

    def start(self) -> None:
        for i in range(self.pollers):
            t = threading.Thread(target=self._run, name=f"esm-{self.uuid[:8]}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=LONG_POLL_SECONDS + 5)

    def _stopping(self) -> bool:
        return self._stop.is_set() or self.ctx.stopping.is_set()

    def _run(self) -> None:
        sqs = self.ctx.client("sqs")
        while not self._stopping():
            try:
                batch = self._gather(sqs)
            except Exception as exc:  # emulator shutting down or restarting
                log.debug("receive failed on %s: %s", self.queue_arn, exc)
                self._stop.wait(1.0)
                continue
            if batch:
                self._deliver(sqs, batch)

    def _receive(self, sqs: Any, count: int) -> list[dict[str, Any]]:
        resp = sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, count),
            WaitTimeSeconds=LONG_POLL_SECONDS, VisibilityTimeout=self.visibility,
            AttributeNames=["All"], MessageAttributeNames=["All"])
        received = time.monotonic()
        return [{**m, _RECEIVED: received} for m in resp.get("Messages", [])]

    def _gather(self, sqs: Any) -> list[dict[str, Any]]:
        """One batch: receive until it is full, the batching window (simulated seconds, a
        wait) has passed since the first message, or the payload reaches 6 MB."""
        batch = self._receive(sqs, self.batch_size)
        if not batch or not self.window:
            return batch
        deadline = time.monotonic() + self.ctx.clock.to_wall(self.window)
        size = sum(len(m["Body"]) for m in batch)
        while (len(batch) < self.batch_size and size < MAX_PAYLOAD_BYTES
               and time.monotonic() < deadline and not self._stopping()):
            more = self._receive(sqs, self.batch_size - len(batch))
            batch.extend(more)
            size += sum(len(m["Body"]) for m in more)
        return batch

    def _deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.queue_arn, self.ctx.region)
        self.delivered += len(messages)
        try:
            outcome = self.invoker.invoke_sync(self.function_arn, event)
        except Throttled:
            self.throttled_batches += 1
            self._release(sqs, messages)  # kept: visible again after the rest of the timeout
            return
        except Exception:
            log.exception("invoking %s for %s failed", self.function_arn, self.queue_arn)
            self._release(sqs, messages)
            return
        if outcome.error:
            self.failed_batches += 1
            self._release(sqs, messages)
            return
        ids = {m["MessageId"] for m in messages}
        failed = failed_ids(outcome.payload, ids) if self.partial else set()
        if failed is None:
            self.failed_batches += 1
            self._release(sqs, messages)
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        for chunk in _chunks(done):
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                         for i, m in enumerate(chunk)])
        self.deleted += len(done)
        self._release(sqs, [m for m in messages if m["MessageId"] in failed])

    def _release(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        """Messages not deleted wait out the rest of their visibility in simulated time, unless
        the function set their visibility itself (a backoff): Lambda leaves a failed message
        alone, so it returns when the function said (https://docs.aws.amazon.com/lambda/latest/
        dg/services-sqs-errorhandling.html)."""
        now = time.monotonic()
        entries = []
        for m in messages:
            if self._set_by_function(m["ReceiptHandle"]):
                continue
            rest = rest_of_visibility(self.visibility, now - m[_RECEIVED],
                                      self.ctx.clock.scale)
            if rest is not None:
                entries.append({"Id": str(len(entries)), "ReceiptHandle": m["ReceiptHandle"],
                                "VisibilityTimeout": rest})
        for chunk in _chunks(entries):
            try:
                sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=chunk)
            except Exception as exc:  # the message returns after its full timeout instead
                log.debug("changing visibility on %s failed: %s", self.queue_arn, exc)

    def _set_by_function(self, receipt_handle: str) -> bool:
        """Read in-process from moto's queue (SQS has no call that says so)."""
        from moto.sqs.models import sqs_backends

        from tradai_sim.cloud.sqs_index.moto_hooks import visibility_changed_since_receive

        _, _, _, region, account, name = self.queue_arn.split(":", 5)
        try:
            queue = sqs_backends[account][region].get_queue(name)
            return visibility_changed_since_receive(queue, receipt_handle)
        except Exception as exc:  # the queue is gone: nothing to leave alone
            log.debug("reading %s in moto failed: %s", self.queue_arn, exc)
            return False

    def status(self) -> dict[str, Any]:
        return {"function": self.function_arn.rsplit(":", 1)[1],
                "queue": self.queue_arn.rsplit(":", 1)[1], "pollers": self.pollers,
                "visibility_timeout": self.visibility,
                "delivered": self.delivered, "deleted": self.deleted,
                "failed_batches": self.failed_batches,
                "throttled_batches": self.throttled_batches}


def mapping_settings(mapping: dict[str, Any]) -> tuple[int, int, bool, int]:
    """What a poller runs with: batch size, batching window, partial batch responses, pollers."""
    pollers = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return (int(mapping.get("BatchSize") or 10),
            int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
            int(pollers or DEFAULT_POLLERS))


def rest_of_visibility(visibility: int, elapsed_wall: float, scale: float) -> int | None:
    """The new visibility (wall seconds) of a message kept after a failed or throttled
    invocation: the rest of its timeout, passed in simulated time. None: it is already
    visible again (the invocation outlasted the timeout, as can happen on AWS)."""
    rest = visibility - elapsed_wall
    if rest <= 0:
        return None
    return max(0, math.ceil(rest / scale))


def _chunks(items: list[Any], size: int = 10) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class SqsEventSources:
    """Keeps one poller per enabled SQS mapping, following changes to the mappings."""

    name = "sqs-event-sources"

    def __init__(self, ctx: CloudContext, invoker: Invoker) -> None:
        self.ctx = ctx
        self.invoker = invoker
        self._pollers: dict[str, QueuePoller] = {}
        self._thread = threading.Thread(target=self._watch, name="esm-watch", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for p in list(self._pollers.values()):
            p.stop()

    def status(self) -> dict[str, Any]:
        return {"mappings": [p.status() for p in self._pollers.values()]}

    def _watch(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            try:
                self.refresh()
            except Exception as exc:
                log.debug("refreshing event-source mappings failed: %s", exc)

    def refresh(self) -> None:
        lam = self.ctx.client("lambda")
        mappings = []
        for page in lam.get_paginator("list_event_source_mappings").paginate():
            mappings.extend(page["EventSourceMappings"])
        wanted = {
            m["UUID"]: m for m in mappings
            if ":sqs:" in m["EventSourceArn"] and m.get("State", "Enabled") == "Enabled"
        }
        for uuid in set(self._pollers) - set(wanted):
            self._pollers.pop(uuid).stop()
        for uuid, m in wanted.items():
            current = self._pollers.get(uuid)
            if current is not None and current.settings != mapping_settings(m):
                self._pollers.pop(uuid).stop()  # UpdateEventSourceMapping: poll anew
                current = None
            if current is None:
                poller = QueuePoller(self.ctx, self.invoker, m)
                self._pollers[uuid] = poller
                poller.start()
            else:
                current.refresh_visibility()
