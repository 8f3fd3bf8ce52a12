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
import threading
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.lambda_runtime.invoker import Invoker
from tradai_sim.cloud.lambda_runtime.runtime import Throttled

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0  # how often mappings are re-read (wall)
LONG_POLL_SECONDS = 1  # receive wait (wall); short so that stop() is prompt
DEFAULT_POLLERS = 2


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
    def __init__(self, ctx: CloudContext, invoker: Invoker, mapping: dict[str, Any]) -> None:
        self.ctx = ctx
        self.invoker = invoker
        self.uuid = mapping["UUID"]
        self.function_arn = mapping["FunctionArn"]
        self.queue_arn = mapping["EventSourceArn"]
        self.batch_size = int(mapping.get("BatchSize") or 10)
        self.partial = "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or [])
        pollers = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        self.pollers = int(pollers or DEFAULT_POLLERS)
        sqs = ctx.client("sqs")
        name = self.queue_arn.rsplit(":", 1)[1]
        self.queue_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered = 0
        self.deleted = 0
        self.failed_batches = 0

    def start(self) -> None:
        for i in range(self.pollers):
            t = threading.Thread(target=self._run, name=f"esm-{self.uuid[:8]}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=LONG_POLL_SECONDS + 5)

    def _run(self) -> None:
        sqs = self.ctx.client("sqs")
        while not self._stop.is_set() and not self.ctx.stopping.is_set():
            try:
                resp = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.batch_size,
                    WaitTimeSeconds=LONG_POLL_SECONDS,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as exc:  # emulator shutting down or restarting
                log.debug("receive failed on %s: %s", self.queue_arn, exc)
                self._stop.wait(1.0)
                continue
            messages = resp.get("Messages", [])
            if messages:
                self._deliver(sqs, messages)

    def _deliver(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.queue_arn, self.ctx.region)
        self.delivered += len(messages)
        try:
            outcome = self.invoker.invoke_sync(self.function_arn, event)
        except Throttled:
            return  # messages come back after the visibility timeout
        except Exception:
            log.exception("invoking %s for %s failed", self.function_arn, self.queue_arn)
            return
        if outcome.error:
            self.failed_batches += 1
            return
        ids = {m["MessageId"] for m in messages}
        failed = failed_ids(outcome.payload, ids) if self.partial else set()
        if failed is None:
            self.failed_batches += 1
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                         for i, m in enumerate(done)],
            )
            self.deleted += len(done)

    def status(self) -> dict[str, Any]:
        return {"function": self.function_arn.rsplit(":", 1)[1],
                "queue": self.queue_arn.rsplit(":", 1)[1], "pollers": self.pollers,
                "delivered": self.delivered, "deleted": self.deleted,
                "failed_batches": self.failed_batches}


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
            if uuid not in self._pollers:
                poller = QueuePoller(self.ctx, self.invoker, m)
                self._pollers[uuid] = poller
                poller.start()
