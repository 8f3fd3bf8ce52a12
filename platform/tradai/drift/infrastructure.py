"""Detect infrastructure drift with Pulumi's Automation API (``pulumi preview --refresh``).

The Automation API drives the Pulumi CLI. Where the CLI is not installed (this repository's
development machines, or a zip-packaged Lambda) the result says so plainly, with status
``unavailable``, instead of reporting a stack as in sync.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

STACK_VAR = "TRADAI_PULUMI_STACK"
WORK_DIR_VAR = "TRADAI_PULUMI_WORK_DIR"
SAME = "same"


class DriftConfigError(ValueError):
    """A required environment variable is missing; the message names it."""


@dataclass(frozen=True)
class DriftSettings:
    stack: str
    work_dir: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DriftSettings:
        missing = [v for v in (STACK_VAR, WORK_DIR_VAR) if not env.get(v)]
        if missing:
            raise DriftConfigError(
                f"{', '.join(missing)} not set: the drift detector needs the Pulumi stack name "
                f"and the directory holding Pulumi.yaml"
            )
        return cls(stack=env[STACK_VAR], work_dir=env[WORK_DIR_VAR])


def unavailable(reason: str) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason}


def summarize(stack: str, change_summary: Mapping[Any, int]) -> dict[str, Any]:
    """Every operation other than ``same`` is a difference between AWS and the program."""
    counts = {str(getattr(op, "value", op)): int(n) for op, n in change_summary.items()}
    changes = sum(n for op, n in counts.items() if op != SAME)
    return {
        "status": "drift" if changes else "in_sync",
        "stack": stack,
        "changes": changes,
        "summary": counts,
    }


def detect_drift(
    settings: DriftSettings,
    *,
    which: Callable[[str], str | None] = shutil.which,
    automation: ModuleType | None = None,
) -> dict[str, Any]:
    if which("pulumi") is None:
        return unavailable(
            "pulumi CLI not installed (not on PATH); the Automation API needs it to preview "
            f"stack {settings.stack!r}"
        )
    if automation is None:
        try:
            import pulumi.automation as automation  # optional dependency (tradai[infra])
        except ImportError:
            return unavailable("the pulumi Python package is not installed (tradai[infra])")
    try:
        stack = automation.select_stack(stack_name=settings.stack, work_dir=settings.work_dir)
        # refresh=True reads the real resources first, so the preview shows drift, not just
        # program changes.
        result = stack.preview(refresh=True)
    except FileNotFoundError as exc:  # raised when the CLI binary cannot be executed
        return unavailable(f"pulumi CLI not installed: {exc}")
    return summarize(settings.stack, result.change_summary)
