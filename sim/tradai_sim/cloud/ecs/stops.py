"""Task stops, announced in the cloud process, so Step Functions' ``ecs:runTask.sync`` learns
of its task's end when it happens.

AWS Step Functions is told of an ECS task's end by ECS's events (the ``.sync`` pattern,
https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-sync);
moto's interpreter polls DescribeTasks every 0.5 wall seconds (10 simulated seconds at the
usual time scale), which a job's status shows as time spent after its task ended.
"""

from __future__ import annotations

import threading

_changed = threading.Condition()
_count = 0


def announce() -> None:
    """A task has reached STOPPED (its state is visible to DescribeTasks already)."""
    global _count
    with _changed:
        _count += 1
        _changed.notify_all()


def seen() -> int:
    """How many stops have been announced: pass it to ``wait_after``."""
    return _count


def wait_after(count: int, timeout: float) -> bool:
    """Wait until a stop after the ``count``-th is announced, at most ``timeout`` seconds."""
    with _changed:
        return _changed.wait_for(lambda: _count != count, timeout)
