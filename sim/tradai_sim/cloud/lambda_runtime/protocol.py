"""The messages between the runtime and a worker: one JSON object per line on a pipe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

IN_FD_ENV = "TRADAI_LAMBDA_IN_FD"
OUT_FD_ENV = "TRADAI_LAMBDA_OUT_FD"
READY_LINE = b'{"ready": true}\n'  # the worker's Init phase is over
# AWS limits the Init phase to 10 s; past that, Init goes on within the first invocation and
# counts against the function's timeout (https://docs.aws.amazon.com/lambda/latest/dg/
# lambda-runtime-environment.html, "Init phase"). Wall seconds: it bounds work.
INIT_LIMIT_SECONDS = 10.0


@dataclass(frozen=True)
class Invocation:
    request_id: str
    event: Any
    deadline_wall: float  # wall-clock epoch seconds at which the function times out

    def encode(self) -> bytes:
        return (json.dumps(self.__dict__) + "\n").encode()


@dataclass(frozen=True)
class Outcome:
    """What an invocation produced: a JSON payload, or an error in Lambda's error shape."""

    payload: str
    error: bool = False
    logs: str = ""
    duration_ms: float = 0.0

    @property
    def error_type(self) -> str | None:
        if not self.error:
            return None
        try:
            return str(json.loads(self.payload).get("errorType"))
        except (ValueError, AttributeError):
            return None


def error_payload(error_type: str, message: str, trace: list[str] | None = None) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": trace or []})
