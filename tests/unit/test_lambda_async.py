"""Pure logic of asynchronous invocation and SQS mappings: retry schedule, records, checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tradai_sim.cloud.event_sources.sqs import rest_of_visibility
from tradai_sim.cloud.event_sources.validation import WINDOW_REQUIRED, sqs_mapping_problem
from tradai_sim.cloud.lambda_runtime.destinations import AsyncEvent, invocation_record
from tradai_sim.cloud.lambda_runtime.invoker import Invoker
from tradai_sim.cloud.lambda_runtime.protocol import Outcome, error_payload
from tradai_sim.cloud.lambda_runtime.runtime import FunctionConfig, Throttled

STD = "arn:aws:sqs:eu-central-1:123456789012:q"
FIFO = STD + ".fifo"


@pytest.mark.parametrize(("arn", "batch", "window", "ok"), [
    (STD, None, None, True), (STD, 10, 0, True), (STD, 11, 0, False), (STD, 11, 1, True),
    (STD, 10_000, 300, True), (STD, 10_001, 300, False), (FIFO, 10, None, True),
    (FIFO, 11, None, False), (FIFO, 5, 1, False),
    ("arn:aws:kinesis:eu-central-1:123456789012:stream/s", 500, None, True),
])
def test_sqs_mapping_limits(arn: str, batch: int | None, window: int | None, ok: bool) -> None:
    assert (sqs_mapping_problem(arn, batch, window) is None) is ok


def test_window_required_message_is_aws_text() -> None:
    assert sqs_mapping_problem(STD, 11, None) == WINDOW_REQUIRED


@pytest.mark.parametrize(("visibility", "elapsed", "scale", "expected"), [
    (60, 0.5, 20, 3),      # a fast failure: the whole timeout, in simulated time
    (180, 30, 20, 8),      # ceil(150 / 20)
    (60, 59.9, 1, 1),      # rounded up to whole seconds
    (60, 61, 20, None),    # the invocation outlasted the timeout: already visible
])
def test_rest_of_visibility(visibility: int, elapsed: float, scale: float,
                            expected: int | None) -> None:
    assert rest_of_visibility(visibility, elapsed, scale) == expected


def test_invocation_record_of_a_function_error() -> None:
    ev = AsyncEvent("arn:aws:lambda:eu-central-1:1:function:f", {"n": 1}, "rid", 0.0,
                    attempts=3, status=200,
                    outcome=Outcome(error_payload("ValueError", "bad"), error=True))
    record = invocation_record(ev, "RetriesExhausted", 1_700_000_000.5)
    assert record["timestamp"] == "2023-11-14T22:13:20.500Z"
    assert record["requestContext"] == {
        "requestId": "rid", "functionArn": "arn:aws:lambda:eu-central-1:1:function:f:$LATEST",
        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "bad"
    assert json.loads(json.dumps(record)) == record


@dataclass
class _Clock:
    t: float = 1000.0
    scale: float = 20.0

    def now(self) -> float:
        return self.t

    def to_wall(self, s: float) -> float:
        return s / self.scale


class _Ctx:
    clock = _Clock()


class _Runtime:
    def __init__(self, results: list[Any]) -> None:
        self.results = results

    def invoke(self, fn: FunctionConfig, event: Any, rid: str) -> Outcome:
        r = self.results.pop(0)
        if isinstance(r, Exception):
            raise r
        return r


class _Queue:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def later(self, ev: AsyncEvent, delay: float) -> None:
        self.delays.append(delay)


def _fn(**kw: Any) -> FunctionConfig:
    return FunctionConfig("f", "arn:f", "h.h", 3, 128, {}, b"", "", **kw)


def _invoker(fn: FunctionConfig, results: list[Any]) -> tuple[Invoker, list[str]]:
    inv = Invoker(_Ctx(), _Runtime(results), lambda _: fn)  # type: ignore[arg-type]
    failed: list[str] = []
    inv._failed = lambda f, ev, cond: failed.append(cond)  # type: ignore[method-assign]
    return inv, failed


def test_function_errors_retry_one_then_two_minutes_then_fail() -> None:
    err = Outcome(error_payload("E", "x"), error=True)
    inv, failed = _invoker(_fn(), [err, err, err])
    q, ev = _Queue(), AsyncEvent("arn:f", {}, "r", 1000.0)
    for _ in range(3):
        inv.attempt(q, ev)  # type: ignore[arg-type]
    assert q.delays == [60.0, 120.0]
    assert failed == ["RetriesExhausted"] and ev.attempts == 3


def test_throttles_back_off_from_one_second_doubling_to_five_minutes() -> None:
    inv, failed = _invoker(_fn(), [Throttled("Rate Exceeded.")] * 12)
    q, ev = _Queue(), AsyncEvent("arn:f", {}, "r", 1000.0)
    for _ in range(12):
        inv.attempt(q, ev)  # type: ignore[arg-type]
    assert q.delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert not failed and ev.attempts == 0 and ev.status == 429


def test_expired_event_goes_to_failure_with_event_age_exceeded() -> None:
    inv, failed = _invoker(_fn(max_event_age=60), [])
    q, ev = _Queue(), AsyncEvent("arn:f", {}, "r", 1000.0 - 60)
    inv.attempt(q, ev)  # type: ignore[arg-type]
    assert failed == ["EventAgeExceeded"]


def test_reserved_concurrency_zero_discards_without_retries() -> None:
    inv, failed = _invoker(_fn(reserved_concurrency=0), [])
    q, ev = _Queue(), AsyncEvent("arn:f", {}, "r", 1000.0)
    inv.attempt(q, ev)  # type: ignore[arg-type]
    assert failed == ["RetriesExhausted"] and q.delays == [] and ev.status == 429
