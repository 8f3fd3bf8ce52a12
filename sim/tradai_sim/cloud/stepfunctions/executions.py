"""StartExecution without a name gets a generated one, as in AWS.

moto's executing backend (``StepFunctionsParserBackend``) passes ``name=None`` through, so
every unnamed execution is called ``None`` and the second one fails with
ExecutionAlreadyExists. Installed by ``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4


def start_execution(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``StepFunctionsParserBackend.start_execution``."""

    def start(self: Any, state_machine_arn: str, name: str | None = None,
              execution_input: Any = None, trace_header: Any = None) -> Any:
        return original(self, state_machine_arn, name or str(uuid4()), execution_input,
                        trace_header)

    return start
