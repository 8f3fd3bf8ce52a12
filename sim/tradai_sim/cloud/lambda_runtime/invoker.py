"""Invocation semantics on top of the runtime: synchronous, and asynchronous (Event) as AWS runs it.

Asynchronous invocations (InvocationType=Event, SNS, EventBridge, lifecycle hooks) wait in a
queue of their function's own, drained by up to the function's concurrency, so one slow
function never holds back another. As AWS documents
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html):
a function error is retried MaximumRetryAttempts times (default 2), 1 then 2 minutes apart;
a throttle (429) or system error (500) returns the event to the queue with a back-off growing
from 1 second to 5 minutes, for as long as the event is younger than MaximumEventAgeInSeconds
(default 6 hours). An event that fails every attempt or expires goes to the on-failure
destination and/or the dead-letter queue; with reserved concurrency 0 new events go there at
once, without retries. Every delay is waiting: simulated time.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.lambda_runtime.destinations import AsyncEvent, Recorder, invocation_record
from tradai_sim.cloud.lambda_runtime.protocol import Outcome
from tradai_sim.cloud.lambda_runtime.runtime import FunctionConfig, LambdaRuntime, Throttled

log = logging.getLogger(__name__)

FUNCTION_ERROR_DELAYS = (60.0, 120.0)  # simulated seconds before retries 1 and 2
THROTTLE_FIRST_DELAY = 1.0  # simulated seconds; doubles per throttle / system error
THROTTLE_MAX_DELAY = 300.0
IDLE_WORKER_SECONDS = 30.0  # wall: an idle queue worker exits
MAX_FAILURE_LOG = 500

# Resolves a function name or ARN to its current configuration (reads the emulator).
FunctionResolver = Callable[[str], FunctionConfig]


class FunctionQueue:
    """One function's asynchronous event queue and its workers (at most its concurrency)."""

    def __init__(self, invoker: Invoker, arn: str) -> None:
        self.invoker = invoker
        self.arn = arn
        self._events: deque[AsyncEvent] = deque()
        self._cond = threading.Condition()
        self._workers = 0
        self._idle = 0
        self.delayed = 0

    def put(self, ev: AsyncEvent) -> None:
        with self._cond:
            self._events.append(ev)
            if self._idle == 0 and self._workers < self.invoker.worker_limit(self.arn):
                self._workers += 1
                threading.Thread(target=self._work, daemon=True,
                                 name=f"lambda-async-{self.arn.rsplit(':', 1)[1]}").start()
            self._cond.notify()

    def later(self, ev: AsyncEvent, delay_sim: float) -> None:
        with self._cond:
            self.delayed += 1

        def back() -> None:
            with self._cond:
                self.delayed -= 1
            self.put(ev)

        timer = threading.Timer(self.invoker.ctx.clock.to_wall(delay_sim), back)
        timer.daemon = True
        timer.start()

    def pending(self) -> int:
        with self._cond:
            return len(self._events) + self.delayed

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._events:
                    if self.invoker.stopped.is_set():
                        self._workers -= 1
                        return
                    self._idle += 1
                    self._cond.wait(IDLE_WORKER_SECONDS)
                    self._idle -= 1
                    if not self._events:
                        self._workers -= 1
                        return
                ev = self._events.popleft()
            try:
                self.invoker.attempt(self, ev)
            except Exception:
                log.exception("asynchronous invocation of %s failed unexpectedly", self.arn)


class Invoker:
    name = "lambda-invoker"

    def __init__(self, ctx: CloudContext, runtime: LambdaRuntime, resolve: FunctionResolver):
        self.ctx = ctx
        self.runtime = runtime
        self.resolve = resolve
        self.recorder = Recorder(ctx, self.invoke_async)
        self.stopped = threading.Event()
        self._queues: dict[str, FunctionQueue] = {}
        self._lock = threading.Lock()
        self.async_failures: list[dict[str, Any]] = []

    def start(self) -> None:
        self.stopped.clear()

    def stop(self) -> None:
        self.stopped.set()
        with self._lock:
            queues = list(self._queues.values())
        for q in queues:
            q.wake()

    def status(self) -> dict[str, Any]:
        with self._lock:
            pending = {arn.rsplit(":", 1)[1]: q.pending() for arn, q in self._queues.items()}
        return {"async_pending": sum(pending.values()),
                "async_pending_by_function": {k: v for k, v in pending.items() if v},
                "async_failed": len(self.async_failures)}

    def invoke_sync(self, function: str, event: Any) -> Outcome:
        """RequestResponse: raises Throttled when the function is at its concurrency."""
        return self.runtime.invoke(self.resolve(function), event, str(uuid.uuid4()))

    def invoke_async(self, function: str, event: Any, request_id: str | None = None) -> str:
        """Event: queue the event on its function's queue; returns its request id."""
        rid = request_id or str(uuid.uuid4())
        try:
            arn = self.resolve(function).arn
        except Exception as exc:  # the function is gone: nothing can ever run the event
            self._log_failure(function, f"{type(exc).__name__}: {exc}", event)
            return rid
        self._queue(arn).put(AsyncEvent(arn, event, rid, self.ctx.clock.now()))
        return rid

    def worker_limit(self, arn: str) -> int:
        try:
            return max(1, self.runtime.concurrency_limit(self.resolve(arn)))
        except Exception:
            return 1

    def _queue(self, arn: str) -> FunctionQueue:
        with self._lock:
            q = self._queues.get(arn)
            if q is None:
                q = self._queues[arn] = FunctionQueue(self, arn)
            return q

    # -- one attempt ------------------------------------------------------------------------
    def attempt(self, queue: FunctionQueue, ev: AsyncEvent) -> None:
        try:
            fn = self.resolve(ev.function)
        except Exception as exc:  # deleted while queued
            self._log_failure(ev.function, f"{type(exc).__name__}: {exc}", ev.payload)
            return
        age = self.ctx.clock.now() - ev.received_at
        if age >= fn.max_event_age:
            self._failed(fn, ev, "EventAgeExceeded")
            return
        if fn.reserved_concurrency == 0:  # documented: straight to DLQ/on-failure, no retries
            ev.status, ev.error = 429, "Rate Exceeded."
            self._failed(fn, ev, "RetriesExhausted")
            return
        try:
            outcome = self.runtime.invoke(fn, ev.payload, ev.request_id)
        except Throttled as exc:
            self._back_off(queue, fn, ev, 429, str(exc), age)
            return
        except Exception as exc:  # no environment could start (e.g. every subnet's AZ down)
            self._back_off(queue, fn, ev, 500, f"{type(exc).__name__}: {exc}", age)
            return
        ev.attempts += 1
        ev.outcome = outcome
        if not outcome.error:
            ev.status, ev.error = 200, ""
            if fn.on_success:
                record = invocation_record(ev, "Success", self.ctx.clock.now())
                self.recorder.to_destination(fn.on_success, record, success=True)
            return
        ev.status, ev.error = 200, _error_message(outcome)
        retries_done = ev.attempts - 1
        if retries_done < min(fn.max_retry_attempts, len(FUNCTION_ERROR_DELAYS)):
            queue.later(ev, FUNCTION_ERROR_DELAYS[retries_done])
        else:
            self._failed(fn, ev, "RetriesExhausted")

    def _back_off(self, queue: FunctionQueue, fn: FunctionConfig, ev: AsyncEvent,
                  status: int, error: str, age: float) -> None:
        ev.status, ev.error = status, error
        ev.backoff = THROTTLE_FIRST_DELAY if not ev.backoff else min(THROTTLE_MAX_DELAY,
                                                                     ev.backoff * 2)
        # Not past the event's expiry, so an expired event is noticed when it expires.
        queue.later(ev, max(0.0, min(ev.backoff, fn.max_event_age - age)))

    def _failed(self, fn: FunctionConfig, ev: AsyncEvent, condition: str) -> None:
        if fn.on_failure:
            record = invocation_record(ev, condition, self.ctx.clock.now())
            self.recorder.to_destination(fn.on_failure, record, success=False)
        if fn.dead_letter:
            self.recorder.to_dead_letter(fn.dead_letter, ev)
        log.warning("async invoke of %s discarded (%s): %s", fn.name, condition, ev.error)
        self._log_failure(fn.name, f"{condition}: {ev.error}", ev.payload)

    def _log_failure(self, function: str, error: str, event: Any) -> None:
        self.async_failures.append({"function": function, "error": error,
                                    "event": repr(event)[:500]})
        del self.async_failures[:-MAX_FAILURE_LOG]


def _error_message(outcome: Outcome) -> str:
    try:
        return str(json.loads(outcome.payload).get("errorMessage", outcome.payload))
    except (ValueError, AttributeError):
        return outcome.payload
