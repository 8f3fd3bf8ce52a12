"""The running cloud's clock as a test (or a CLI run by a test) needs it."""

from __future__ import annotations

import time

from tests.integration.cloud import RunningCloud
from tradai.clock import Clock


def stack_clock(cloud: RunningCloud) -> tuple[Clock, float]:
    """The cloud's clock and how far off (simulated s) it may be: exact when the status says
    its origin, else derived from its simulated now (off by the request's time, scaled)."""
    before = time.time()
    status = cloud.status()
    after = time.time()
    scale = float(status["time_scale"])
    if status.get("clock_origin") is not None:
        return Clock(scale=scale, origin=float(status["clock_origin"])), 0.0
    wall = (before + after) / 2
    origin = (float(status["simulated_now"]) - wall * scale) / (1 - scale)
    return Clock(scale=scale, origin=origin), (after - before) * scale
