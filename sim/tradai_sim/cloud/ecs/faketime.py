"""Making a task's own clock follow the stack's dilated clock, by configuration (libfaketime).

Freqtrade's bot reads the wall clock itself (candle freshness, its loop, trade times), so under
a dilated clock it must see simulated time as its wall time. libfaketime (the ``libfaketime``
wheel ships the shared library) is preloaded into the task's process:

- ``FAKETIME="+<offset> x<scale>"``: the process's realtime clock runs ``scale`` times faster
  from its start, shifted so that it equals ``origin + (wall - origin) * scale``, the stack's
  clock (``tradai.clock``) at every instant;
- ``DONT_FAKE_MONOTONIC=1``: the monotonic clock stays real. With it faked, libfaketime
  mishandles Python's ``clock_nanosleep(TIMER_ABSTIME)`` and ``time.sleep`` never returns
  (measured with libfaketime 3.0.1); a real monotonic clock keeps sleeps, asyncio and socket
  timeouts in wall seconds, which is what bounds real work;
- ``TRADAI_CLOCK_SOURCE=process``: the platform's ``Clock`` in that process reads
  ``time.time()`` as simulated time instead of scaling it a second time, and still converts
  simulated waits into wall sleeps.

Limits: the offset is fixed when the task is launched and libfaketime counts from its own
start, so the process's clock is behind the stack's by the time from launch to that start
times (scale - 1): 15 ms here, 0.3 simulated seconds at scale 20 (``tests/unit/
test_faketime.py`` bounds it). A process's own ``time.sleep(n)`` is n wall seconds (n x scale
simulated): Freqtrade's loop is driven by the container (``tradai.strategy_container.
trading``), which sleeps through the platform clock. On AWS none of this exists: scale 1 and
no preload.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tradai.clock import SOURCE_ENV, Clock


def library() -> Path:
    import libfaketime

    path = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not path.is_file():
        raise FileNotFoundError(f"libfaketime's shared library is missing: {path}")
    return path


def environment(clock: Clock, inherited: dict[str, str] | None = None,
                launched_at: float | None = None) -> dict[str, str]:
    """What to add to a task's environment; nothing when the clock is not dilated."""
    if clock.scale == 1:
        return {}
    now = time.time() if launched_at is None else launched_at
    offset = (now - clock.origin) * (clock.scale - 1)
    preload = str(library())
    previous = (inherited or {}).get("LD_PRELOAD") or os.environ.get("LD_PRELOAD")
    return {
        "LD_PRELOAD": f"{preload}:{previous}" if previous else preload,
        "FAKETIME": f"{offset:+.3f} x{clock.scale:g}",
        "DONT_FAKE_MONOTONIC": "1",
        SOURCE_ENV: "process",
    }
