"""Step Functions' waiting on the simulated clock (patched in ``moto_patches.PATCHES``).

A Wait state (``Seconds``, ``SecondsPath``, ``Timestamp``, ``TimestampPath``) and the interval
between Retry attempts (``IntervalSeconds`` x ``BackoffRate``, capped by ``MaxDelaySeconds``)
are pure waiting, so they pass in simulated time, and the state machine is deployed exactly as
written (no rewritten copy). Task ``TimeoutSeconds`` / ``HeartbeatSeconds`` and the execution's
``TimeoutSeconds`` bound real work and stay wall seconds (moto's own handling): see the time
model in ``tradai_sim.cloud.time_model``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tradai.clock import Clock

# Until the cloud installs its clock the interpreter waits in wall time, as moto does.
_clock = Clock(scale=1.0)
_INTERRUPT_POLL = 0.05  # wall s: re-check after an unrelated wake-up of the program event


def install_clock(clock: Clock) -> None:
    global _clock
    _clock = clock


def wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
    """Replaces ``WaitFunction._wait_interval``: wait ``wait_seconds`` simulated seconds, ending
    early only when the execution stops (StopExecution, timeout), as moto's original does."""
    deadline = time.monotonic() + _clock.to_wall(max(0.0, float(wait_seconds)))
    while (remaining := deadline - time.monotonic()) > 0:
        if env.program_state_event.wait(remaining):
            if not env.is_running():
                return  # interrupted: the execution ended
            time.sleep(min(remaining, _INTERRUPT_POLL))  # unrelated wake-up: keep waiting


def timestamp_wait_seconds(original: Callable[..., int]) -> Callable[..., int]:
    """Wraps ``Timestamp._get_wait_seconds``: the seconds until the timestamp on the simulated
    clock (moto measures them from the wall clock)."""

    def _get_wait_seconds(self: Any, env: Any) -> int:
        wall_delta = original(self, env)
        return int(wall_delta - (_clock.now() - time.time()))

    return _get_wait_seconds


def retrier_eval_body(self: Any, env: Any) -> None:
    """Replaces ``RetrierDecl._eval_body`` (moto 5.2.5's, line for line) with the interval
    before the next attempt slept on the simulated clock."""
    from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
        MaxAttemptsOutcome,
    )
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
        RetrierOutcome,
    )

    self.error_equals.eval(env)
    if not env.stack.pop():
        env.stack.append(RetrierOutcome.Skipped)
        return
    self.max_attempts.eval(env=env)
    if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
        env.stack.append(RetrierOutcome.Failed)
        return
    self.interval_seconds.eval(env=env)
    self.backoff_rate.eval(env=env)
    self.max_delay_seconds.eval(env=env)
    self.jitter_strategy.eval(env=env)
    interval_seconds: float = env.stack.pop()
    time.sleep(_clock.to_wall(interval_seconds))
    env.stack.append(RetrierOutcome.Executed)
