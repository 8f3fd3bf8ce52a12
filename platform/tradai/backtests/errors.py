"""Why a submission is refused or cannot be served; the API maps each to a status code."""

from __future__ import annotations


class InvalidSubmission(ValueError):
    """The request is well-formed but wrong (422): ``field`` names the culprit."""

    def __init__(self, field: str, reason: str, location: str = "body") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.location = location


class DependencyUnavailable(RuntimeError):
    """A service the submission needs (registry, table, queue) did not answer (503).

    ``reason`` is what a user is told; ``cause`` (an internal URL, the exception) is for the
    service's log only."""

    def __init__(self, reason: str, cause: BaseException | str | None = None) -> None:
        what = cause if isinstance(cause, str) or cause is None else \
            f"{type(cause).__name__}: {cause}"
        super().__init__(f"{reason}: {what}" if what else reason)
        self.reason = reason
        self.cause = what
