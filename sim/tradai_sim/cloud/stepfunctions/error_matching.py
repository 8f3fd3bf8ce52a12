"""Retry and Catch matching: ``States.ALL`` does not catch the terminal errors.

AWS: "The States.ALL error type ... can't catch the States.DataLimitExceeded terminal error
or Runtime error types", and a ``States.Runtime`` error "isn't retriable, and will always
cause the execution to fail"
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
moto's ``ErrorEqualsDecl`` matches ``States.ALL`` to every error, so a workflow's catch-all
swallowed a broken JSONPath or an oversized payload. Installed by
``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

from typing import Any


def _states_error(error_name: Any) -> str | None:
    """The ``States.*`` name of a built-in error, None for any other error."""
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )

    return error_name.error_name if isinstance(error_name, StatesErrorName) else None


def matches(error_equals: list[Any], error_name: Any) -> bool:
    """Whether a Retrier's or Catcher's ``ErrorEquals`` matches the error."""
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    name = _states_error(error_name)
    if name == StatesErrorNameType.StatesRuntime.to_name():
        return False  # never retried or caught, whatever ErrorEquals says
    names = {_states_error(e) for e in error_equals}
    if StatesErrorNameType.StatesALL.to_name() in names:
        return name != StatesErrorNameType.StatesStatesDataLimitExceeded.to_name()
    if (StatesErrorNameType.StatesTaskFailed.to_name() in names
            and not isinstance(error_name, StatesErrorName)):
        return True  # as moto: States.TaskFailed matches the task's own (non-States) errors
    return error_name in error_equals


def error_equals_eval_body(self: Any, env: Any) -> None:
    """Replaces ``ErrorEqualsDecl._eval_body``: pops the error, pushes whether it matches."""
    error_name = env.stack.pop()
    env.stack.append(matches(self.error_names, error_name))
