"""Deliver an event to a target the way EventBridge does: retry per the target's RetryPolicy on
the simulated clock, then send it to the target's DeadLetterConfig queue.

The first attempt runs on the caller's thread (so its outcome is known at once); retries run on
one timer thread. Without a DeadLetterConfig an exhausted event is dropped, as in AWS.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

from tradai_sim.cloud.autoscaling.timers import SimTimers
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.scheduler.retry import Failure, RetryPolicy, dlq_attributes
from tradai_sim.cloud.scheduler.targets import TargetDelivery

log = logging.getLogger(__name__)


@dataclass
class _Job:
    source_arn: str  # the rule's (or schedule's) ARN
    target: dict[str, Any]
    payload: Any
    event: Any  # what the dead-letter message carries
    first_attempt: float  # simulated
    source_key: str = "RULE_ARN"
    extra: dict[str, str] | None = None  # further dead-letter attributes
    retries: int = 0


class Dispatcher:
    def __init__(self, ctx: CloudContext, delivery: TargetDelivery) -> None:
        self.ctx = ctx
        self.delivery = delivery
        self.timers = SimTimers(ctx.clock, "eventbridge-retries")
        self._rng = random.Random(11)  # jitter, reproducibly
        self._lock = threading.Lock()
        self.counts = {"retries": 0, "dead_lettered": 0, "dlq_failures": 0, "dropped": 0}
        self.pending = 0

    def start(self) -> None:
        self.timers.start()

    def stop(self) -> None:
        self.timers.stop()

    def send(self, source_arn: str, target: dict[str, Any], payload: Any, event: Any,
             source_key: str = "RULE_ARN", extra: dict[str, str] | None = None) -> str:
        """Deliver now; on failure retry later or dead-letter. Returns the first outcome."""
        job = _Job(source_arn, target, payload, event, self.ctx.clock.now(), source_key, extra)
        outcome, failure = self.delivery.attempt(target, payload)
        if failure is not None:
            self._failed(job, failure)
        return outcome

    def _failed(self, job: _Job, failure: Failure) -> None:
        exhausted = None
        if failure.retriable:
            policy = RetryPolicy.of(job.target.get("RetryPolicy"))
            next_at = self.ctx.clock.now() + policy.backoff(job.retries + 1, self._rng)
            exhausted = policy.exhausted(job.retries, job.first_attempt, next_at)
            if exhausted is None:
                with self._lock:
                    self.pending += 1
                self.timers.at(next_at, lambda: self._retry(job, failure))
                return
        self._dead_letter(job, failure, exhausted)

    def _retry(self, job: _Job, last: Failure) -> None:
        with self._lock:
            self.pending -= 1
        # The timer may fire late (a busy machine, a fast clock): the limits that allowed this
        # retry when it was planned are asked again now, and EventBridge attempts no event
        # past its maximum age.
        policy = RetryPolicy.of(job.target.get("RetryPolicy"))
        exhausted = policy.exhausted(job.retries, job.first_attempt, self.ctx.clock.now())
        if exhausted is not None:
            self._dead_letter(job, last, exhausted)
            return
        self._count("retries")
        job.retries += 1
        _, failure = self.delivery.attempt(job.target, job.payload)
        if failure is not None:
            self._failed(job, failure)

    def _dead_letter(self, job: _Job, failure: Failure, exhausted: str | None) -> None:
        dlq = (job.target.get("DeadLetterConfig") or {}).get("Arn")
        log.info("delivery of %s to %s failed (%s, %d retries, %s): %s", job.source_arn,
                 job.target["Arn"], failure.code, job.retries, exhausted or "not retriable",
                 "dead-lettered" if dlq else "dropped")
        if not dlq:
            self._count("dropped")
            return
        try:
            sqs = self.ctx.client("sqs")
            _, _, _, _, account, name = dlq.split(":", 5)
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            body = job.event if isinstance(job.event, str) else json.dumps(job.event)
            sqs.send_message(QueueUrl=url, MessageBody=body,
                             MessageAttributes=dlq_attributes(
                                 job.source_arn, job.target["Arn"], failure, job.retries,
                                 exhausted, job.source_key, job.extra))
            self._count("dead_lettered")
        except Exception:  # AWS counts InvocationsFailedToBeSentToDLQ; the event is lost
            log.exception("sending to the dead-letter queue %s failed", dlq)
            self._count("dlq_failures")

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {**self.counts, "retries_pending": self.pending}
