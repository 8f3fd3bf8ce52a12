"""EventBridge delivery retries then dead-letters a retriable failure (Dispatcher, fake target).

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from tradai.clock import Clock
from tradai_sim.cloud.scheduler.dispatch import Dispatcher, _Job
from tradai_sim.cloud.scheduler.retry import Failure

DLQ = "arn:aws:sqs:eu-central-1:123456789012:dlq"


class _Throttled:
    """A target that is always throttled; records when each attempt happened (simulated)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.attempts: list[float] = []

    def attempt(self, target: dict[str, Any], payload: Any) -> tuple[str, Failure | None]:
        self.attempts.append(self.clock.now())
        return "failed", Failure("THROTTLING", "Rate Exceeded", retriable=True)


class _Sqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.done = threading.Event()

    def get_queue_url(self, **_: Any) -> dict[str, str]:
        return {"QueueUrl": "http://q/dlq"}

    def send_message(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)
        self.done.set()


def _dispatcher(policy: dict[str, int]) -> tuple[Dispatcher, _Throttled, _Sqs, dict[str, Any]]:
    clock = Clock(scale=1000.0)
    sqs = _Sqs()
    ctx = SimpleNamespace(clock=clock, client=lambda service: sqs)
    target = _Throttled(clock)
    d = Dispatcher(ctx, target)  # type: ignore[arg-type]
    spec = {"Id": "t", "Arn": "arn:aws:lambda:eu-central-1:123456789012:function:f",
            "RetryPolicy": policy, "DeadLetterConfig": {"Arn": DLQ}}
    return d, target, sqs, spec


def test_retriable_failure_is_retried_maximum_retry_attempts_times_then_dead_lettered() -> None:
    d, target, sqs, spec = _dispatcher({"MaximumRetryAttempts": 2,
                                        "MaximumEventAgeInSeconds": 86400})
    d.start()
    try:
        assert d.send("arn:rule", spec, {"x": 1}, {"id": "e"}) == "failed"
        assert sqs.done.wait(10)
    finally:
        d.stop()
    assert len(target.attempts) == 3  # the first attempt and two retries
    assert target.attempts == sorted(target.attempts)
    attrs = {k: v["StringValue"] for k, v in sqs.sent[0]["MessageAttributes"].items()}
    assert attrs["RETRY_ATTEMPTS"] == "2"
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attrs["ERROR_CODE"] == "THROTTLING" and attrs["RULE_ARN"] == "arn:rule"
    assert sqs.sent[0]["MessageBody"] == '{"id": "e"}'
    assert d.status()["dead_lettered"] == 1 and d.status()["retries"] == 2


def test_a_retry_whose_timer_fires_past_the_maximum_age_is_not_attempted() -> None:
    """A busy machine fired the retry's timer late: the event is older than its maximum age
    now, so it is dead-lettered without a further attempt (the unit test that ran the
    dispatcher at 1000x saw an attempt at 72 s with a 60 s limit)."""
    d, target, sqs, spec = _dispatcher({"MaximumRetryAttempts": 185,
                                        "MaximumEventAgeInSeconds": 60})
    job = _Job("arn:rule", spec, {}, {"id": "e"}, first_attempt=d.ctx.clock.now() - 61,
               retries=3)
    d.pending = 1
    d._retry(job, Failure("THROTTLING", "Rate Exceeded", retriable=True))
    assert target.attempts == []
    attrs = {k: v["StringValue"] for k, v in sqs.sent[0]["MessageAttributes"].items()}
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert attrs["RETRY_ATTEMPTS"] == "3" and attrs["ERROR_CODE"] == "THROTTLING"
    assert d.status() == {"retries": 0, "dead_lettered": 1, "dlq_failures": 0, "dropped": 0,
                          "retries_pending": 0}


def test_retriable_failure_stops_at_maximum_event_age() -> None:
    d, target, sqs, spec = _dispatcher({"MaximumRetryAttempts": 185,
                                        "MaximumEventAgeInSeconds": 60})
    d.start()
    try:
        d.send("arn:rule", spec, {}, {})
        assert sqs.done.wait(10)
    finally:
        d.stop()
    attrs = {k: v["StringValue"] for k, v in sqs.sent[0]["MessageAttributes"].items()}
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    # the age is checked just before each attempt, whose time the target records a few
    # microseconds later: at 1000x that is a fraction of a simulated second
    assert target.attempts[-1] - target.attempts[0] < 61
    assert int(attrs["RETRY_ATTEMPTS"]) == len(target.attempts) - 1 > 2
