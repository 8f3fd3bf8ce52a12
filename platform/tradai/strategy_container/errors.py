"""Failures a user can act on, each with the container exit code it maps to.

Exit 2: the job or its configuration is wrong (rerunning will not help); exit 1: the run
itself failed (a strategy that crashes, missing data, a dependency that is down).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_JOB = 2
MAX_ERROR_CHARS = 1000  # the item's error is shown in the CLI and the API: keep it readable


class ContainerError(Exception):
    exit_code = EXIT_RUN_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadJob(ContainerError):
    """The job, its request or its strategy config cannot run as given."""

    exit_code = EXIT_BAD_JOB


class ModeNotSupported(BadJob):
    pass


class NoMarketData(ContainerError):
    pass


class StrategyFailed(ContainerError):
    """The strategy class failed to load or raised while running."""


class DependencyFailed(ContainerError):
    """A service the run needs (table, registry, store, exchange, MLflow) failed."""


class ExchangeUnavailable(DependencyFailed):
    """The exchange did not answer (its markets, a temporary error): worth another try, as
    the way out may be coming back (a NAT instance being replaced)."""


def describe(exc: BaseException) -> tuple[str, int]:
    """(message for the job item, exit code) for any exception that ends the run."""
    if isinstance(exc, ContainerError):
        return _clip(exc.message), exc.exit_code
    return _clip(f"unexpected {type(exc).__name__}: {exc}"), EXIT_RUN_FAILED


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."
