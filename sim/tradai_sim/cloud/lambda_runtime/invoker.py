"""Invocation semantics on top of the runtime: synchronous, asynchronous (Event) with retries.

Asynchronous invocations (InvocationType=Event, SNS, EventBridge, lifecycle hooks) are queued
and retried twice on error, as AWS does (1 then 2 minutes apart, on the simulated clock).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.lambda_runtime.protocol import Outcome
from tradai_sim.cloud.lambda_runtime.runtime import FunctionConfig, LambdaRuntime, Throttled

log = logging.getLogger(__name__)

ASYNC_RETRY_DELAYS = (60.0, 120.0)  # simulated seconds
ASYNC_WORKERS = 4

# Resolves a function name or ARN to its current configuration (reads the emulator).
FunctionResolver = Callable[[str], FunctionConfig]


@dataclass
class _AsyncJob:
    function: str
    event: Any
    attempt: int = 0


class Invoker:
    name = "lambda-invoker"

    def __init__(self, ctx: CloudContext, runtime: LambdaRuntime, resolve: FunctionResolver):
        self.ctx = ctx
        self.runtime = runtime
        self.resolve = resolve
        self._queue: queue.Queue[_AsyncJob | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.async_failures: list[dict[str, Any]] = []

    def start(self) -> None:
        for i in range(ASYNC_WORKERS):
            t = threading.Thread(target=self._drain, name=f"lambda-async-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def status(self) -> dict[str, Any]:
        return {"async_pending": self._queue.qsize(), "async_failed": len(self.async_failures)}

    def invoke_sync(self, function: str, event: Any) -> Outcome:
        """RequestResponse: raises Throttled when the function is at its concurrency."""
        return self.runtime.invoke(self.resolve(function), event, str(uuid.uuid4()))

    def invoke_async(self, function: str, event: Any) -> None:
        self._queue.put(_AsyncJob(function, event))

    def _drain(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                outcome = self.invoke_sync(job.function, job.event)
                failed = outcome.error
                detail = outcome.payload
            except Throttled as exc:
                failed, detail = True, str(exc)
            except Exception as exc:  # unknown function, emulator down: AWS drops after retries
                failed, detail = True, f"{type(exc).__name__}: {exc}"
            if not failed:
                continue
            if job.attempt < len(ASYNC_RETRY_DELAYS):
                delay = self.ctx.clock.to_wall(ASYNC_RETRY_DELAYS[job.attempt])
                job.attempt += 1
                t = threading.Timer(delay, self._queue.put, args=(job,))
                t.daemon = True
                t.start()
            else:
                log.warning("async invoke of %s failed after retries: %s", job.function, detail)
                self.async_failures.append({"function": job.function, "error": detail,
                                            "event": json.dumps(job.event)[:500]})
