"""The errors of the move-task operations, with the codes the SQS API reference lists for them
(ResourceNotFoundException, UnsupportedOperation) and the common InvalidParameterValue. Texts
and statuses follow what AWS answers where that is known (a missing queue is a 404)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MoveTaskError(Exception):
    code: str
    message: str
    status: int = 400

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def not_found(parameter: str) -> MoveTaskError:
    return MoveTaskError("ResourceNotFoundException",
                         f"The resource that you specified for the {parameter} parameter "
                         f"doesn't exist.", 404)


def task_not_found() -> MoveTaskError:
    return MoveTaskError("ResourceNotFoundException", "Task does not exist.", 404)


def invalid(message: str) -> MoveTaskError:
    return MoveTaskError("InvalidParameterValue", message)


def invalid_value(parameter: str, value: object, reason: str = "") -> MoveTaskError:
    tail = f" Reason: {reason}" if reason else ""
    return invalid(f"Value {value} for parameter {parameter} is invalid.{tail}")


def unsupported(message: str) -> MoveTaskError:
    return MoveTaskError("UnsupportedOperation", message)
