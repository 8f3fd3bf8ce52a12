"""A reason a user can act on, from what Step Functions hands the failure path.

A Catch puts ``{"Error": ..., "Cause": ...}`` at ``$.error`` and the workflow names the stage
that failed (``$.failed_stage``). The cause is JSON in two common shapes: a Lambda error
(``errorType`` / ``errorMessage``) or, for ``ecs:runTask.sync``, the stopped task's
description (exit code, stopped reason). The container writes its own ``error`` into the job
item before exiting non-zero; that is the most specific reason there is, so it is quoted.
"""

from __future__ import annotations

import json
from typing import Any

STAGES = {
    "validation": "strategy validation failed",
    "data": "market data could not be prepared",
    "status": "could not record the job's progress",
    "backtest": "backtest failed",
    "success": "recording the result failed",
}
_PLAIN_ERRORS = {
    "States.Timeout": "timed out",
    "Sandbox.Timedout": "a step timed out",
    "States.HeartbeatTimeout": "stopped reporting",
}


def reason(error: Any, stage: str | None = None, container_error: str | None = None) -> str:
    what = STAGES.get(stage or "", "the workflow failed")
    if not isinstance(error, dict):
        return f"{what}: {error}" if error else what
    name = str(error.get("Error") or "")
    cause = _json(error.get("Cause"))
    if isinstance(cause, dict) and "Containers" in cause:
        return _task_reason(cause, container_error)
    if isinstance(cause, dict) and "errorMessage" in cause:
        detail = str(cause.get("errorMessage") or cause.get("errorType") or name)
    elif name in _PLAIN_ERRORS:
        detail = _PLAIN_ERRORS[name]
    else:
        detail = f"{name}: {error.get('Cause')}" if error.get("Cause") else name
    if container_error and stage == "backtest":
        detail = f"{detail} ({container_error})"
    return f"{what}: {detail}"


def _task_reason(task: dict[str, Any], container_error: str | None) -> str:
    containers = task.get("Containers") or [{}]
    code = containers[0].get("ExitCode")
    said = f": {container_error}" if container_error else ""
    if code is not None:
        return f"backtest container exited with code {code}{said}"
    stopped = task.get("StoppedReason") or task.get("StopCode") or "unknown reason"
    return f"backtest task stopped before finishing ({stopped}){said}"


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None
