"""Run the server as a child and pass stop signals on to everything it spawned.

``mlflow server`` starts uvicorn in a process of its own. The child stays in the supervisor's
process group, so a group kill by ECS (StopTask, or SIGKILL after the stop timeout) reaches
every process; a SIGTERM sent to the supervisor alone is forwarded to the whole group. The
supervisor exits with the server's status (128 + signal when it was killed by one).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

FORWARDED = (signal.SIGTERM, signal.SIGINT)


def run_supervised(argv: Sequence[str], env: Mapping[str, str],
                   on_started: Callable[[Callable[[], bool]], object] | None = None) -> int:
    """``on_started(alive)`` runs once the child exists (it must not block); ``alive()``
    says whether the server is still running."""
    child = subprocess.Popen(list(argv), env=dict(env))
    if on_started is not None:
        on_started(lambda: child.poll() is None)
    leader = os.getpgrp() == os.getpid()  # a task's main process leads its group

    def forward(signum: int, frame: FrameType | None) -> None:
        # Once: the group signal reaches this process too.
        signal.signal(signum, signal.SIG_IGN)
        with contextlib.suppress(ProcessLookupError):
            if leader:
                os.killpg(os.getpid(), signum)
            else:  # run from a shell: the group is the shell's job, not ours to signal
                child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    returncode = child.wait()
    return 128 - returncode if returncode < 0 else returncode
