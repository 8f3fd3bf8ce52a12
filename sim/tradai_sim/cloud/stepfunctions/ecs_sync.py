"""``ecs:runTask.sync``: a task whose essential container failed fails the state.

moto's sync resolver returns the stopped task whatever its exit code. AWS Step Functions
fails the state with ``States.TaskFailed`` (cause: the task description as JSON) when the task
stopped for any reason other than its essential containers exiting with 0, so the ASL's Retry
and Catch see the failure. Installed by ``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def task_failure(task: dict[str, Any]) -> str | None:
    """Why a stopped task (Step Functions casing) counts as failed, or None if it succeeded."""
    containers = task.get("Containers") or []
    failed = [c for c in containers if c.get("ExitCode") not in (0, None)]
    if failed:
        return ", ".join(f"{c.get('Name')} exited with {c.get('ExitCode')}" for c in failed)
    if task.get("StopCode") != "EssentialContainerExited":
        return f"task stopped: {task.get('StopCode')} ({task.get('StoppedReason')})"
    if any(c.get("ExitCode") is None for c in containers):
        return "an essential container has no exit code"
    return None


def build_sync_resolver(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``StateTaskServiceEcs._build_sync_resolver``."""

    def build(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
              state_credentials: Any) -> Callable[[], Any] | None:
        resolver = original(self, env, resource_runtime_part, normalised_parameters,
                            state_credentials)
        if resolver is None:
            return None

        def resolve() -> Any:
            task = resolver()
            if isinstance(task, dict) and (reason := task_failure(task)) is not None:
                raise _task_failed(self, env, task, reason)
            return task

        return resolve

    return build


def _task_failed(state: Any, env: Any, task: dict[str, Any], reason: str) -> Exception:
    log.info("ecs:runTask.sync task %s failed: %s", task.get("TaskArn"), reason)
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    error = StatesErrorNameType.StatesTaskFailed
    return FailureEventException(failure_event=FailureEvent(
        env=env,
        error_name=StatesErrorName(typ=error),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
            error=error.to_name(),
            cause=to_json_str(task),  # as in AWS: the task description
            resource=state._get_sfn_resource(),
            resourceType=state._get_sfn_resource_type(),
        )),
    ))
