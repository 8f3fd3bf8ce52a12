"""A task that reads the wall clock itself sees the stack's dilated clock (libfaketime)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tradai.clock import Clock
from tradai_sim.cloud.ecs import faketime

CHILD = """
import datetime, json, time
from tradai.clock import default_clock
t0 = time.time()
now = datetime.datetime.now(datetime.timezone.utc).timestamp()
platform = default_clock().now()
m0 = time.monotonic(); time.sleep(0.5); m1 = time.monotonic()
print(json.dumps({"t0": t0, "now": now, "platform": platform, "t1": time.time(),
                  "slept_wall": m1 - m0}))
"""


def _run_child(clock: Clock) -> tuple[dict[str, float], float, float]:
    env = {**os.environ, **clock.env()}
    launched = time.time()
    env.update(faketime.environment(clock, env, launched_at=launched))
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout), launched, time.time()


def test_a_preloaded_process_reads_the_stacks_clock_as_its_wall_clock() -> None:
    clock = Clock(scale=20, origin=time.time() - 3600)
    seen, launched, ended = _run_child(clock)
    at_launch = clock.origin + (launched - clock.origin) * clock.scale
    at_end = clock.origin + (ended - clock.origin) * clock.scale
    # Behind by at most (launch -> libfaketime start) x (scale - 1): bounded at 1 simulated s.
    assert at_launch - 1.0 <= seen["t0"] <= at_end
    assert abs(seen["now"] - seen["t0"]) < 1.0  # datetime.now() agrees with time.time()
    # The platform clock in the child does not scale a second time.
    assert abs(seen["platform"] - seen["t0"]) < 1.0
    # Sleeps stay wall seconds (monotonic is real); the process's clock advanced 20x as much.
    assert 0.45 <= seen["slept_wall"] < 2.0
    assert 0.45 * 20 <= seen["t1"] - seen["t0"] < 2.0 * 20


def test_an_undilated_clock_preloads_nothing() -> None:
    assert faketime.environment(Clock(scale=1)) == {}


def test_the_platform_clock_refuses_an_unknown_source() -> None:
    import pytest

    with pytest.raises(ValueError, match="TRADAI_CLOCK_SOURCE"):
        Clock.from_env({"TRADAI_CLOCK_SOURCE": "sundial"})
