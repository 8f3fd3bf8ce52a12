"""A Task state's failure, built the way moto's interpreter reports it (TaskFailed event)."""

from __future__ import annotations

from typing import Any


def failure(state: Any, env: Any, error: str, cause: Any) -> Exception:
    """The exception that fails ``state`` with ``error``; ``cause`` is JSON-encoded unless a
    string. ``States.*`` names become the built-in error, others a custom error name."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    name = (StatesErrorName.from_name(error) if error.startswith("States.")
            else CustomErrorName(error_name=error))
    return FailureEventException(failure_event=FailureEvent(
        env=env,
        error_name=name,
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
            error=error,
            cause=cause if isinstance(cause, str) else to_json_str(cause),
            resource=state._get_sfn_resource(),
            resourceType=state._get_sfn_resource_type(),
        )),
    ))
