"""A Lambda execution environment: imports the handler once, then serves invocations.

Started by the runtime with the function's environment; ``LAMBDA_TASK_ROOT`` holds the
function's unpacked code (first on ``sys.path``), and the installed environment plays the
part of a layer. Handler output (print, logging) goes to the function's log file.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

from tradai_sim.cloud.lambda_runtime.protocol import (
    IN_FD_ENV,
    OUT_FD_ENV,
    READY_LINE,
    error_payload,
)


class LambdaContext:
    """The attributes of AWS's Python Lambda context object that handlers use."""

    def __init__(self, request_id: str, deadline_wall: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("TRADAI_LAMBDA_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("TRADAI_LAMBDA_LOG_STREAM", "local")
        self._deadline = deadline_wall

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _load_handler() -> tuple[Any, str | None]:
    handler = os.environ["_HANDLER"]
    module_name, _, func_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        return None, error_payload(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    func = getattr(module, func_name, None)
    if not callable(func):
        return None, error_payload(
            "Runtime.HandlerNotFound", f"Handler '{func_name}' missing on module '{module_name}'"
        )
    return func, None


def main() -> None:
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root:
        sys.path.insert(0, task_root)
    requests = os.fdopen(int(os.environ[IN_FD_ENV]), "rb")
    replies = os.fdopen(int(os.environ[OUT_FD_ENV]), "wb", buffering=0)
    func, init_error = _load_handler()
    # The Init phase is over (the handler's module is imported): the runtime starts counting
    # the function's timeout from the first invocation it hands over after this line.
    replies.write(READY_LINE)
    for line in requests:
        req = json.loads(line)
        rid = req["request_id"]
        print(f"START RequestId: {rid} Version: $LATEST", flush=True)
        started = time.perf_counter()
        if init_error is not None:
            reply = {"payload": init_error, "error": True}
        else:
            try:
                result = func(req["event"], LambdaContext(rid, req["deadline_wall"]))
                reply = {"payload": json.dumps(result), "error": False}
            except Exception as exc:
                trace = traceback.format_exception(exc)
                print("".join(trace), file=sys.stderr, flush=True)
                reply = {
                    "payload": error_payload(type(exc).__name__, str(exc), trace),
                    "error": True,
                }
        duration = (time.perf_counter() - started) * 1000
        print(f"END RequestId: {rid}", flush=True)
        print(f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms", flush=True)
        reply["duration_ms"] = duration
        replies.write((json.dumps(reply) + "\n").encode())


if __name__ == "__main__":
    main()
