"""One clock for every timer the platform owns.

In AWS the clock is wall time. The local harness may dilate it: simulated time runs
``scale`` times faster than wall time from a shared origin, and every process of the
stack reads the same two settings from its environment, so they all agree on "now".
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

SCALE_ENV = "TRADAI_TIME_SCALE"
ORIGIN_ENV = "TRADAI_CLOCK_ORIGIN"
# "process": this process's own time (time.time(), datetime.now()) already IS the platform
# clock, because whoever started it made it so (the local harness runs processes that read
# the wall clock themselves under libfaketime); scale still converts simulated durations into
# the wall seconds that sleeps take. Default "wall": simulated time is derived from wall time.
SOURCE_ENV = "TRADAI_CLOCK_SOURCE"


@dataclass(frozen=True)
class Clock:
    """Simulated time = origin + (wall - origin) * scale; scale 1 is plain wall time."""

    scale: float = 1.0
    origin: float = field(default_factory=time.time)
    process_time: bool = False  # SOURCE_ENV=process: time.time() is already simulated

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"time scale must be > 0, got {self.scale}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Clock:
        env = os.environ if environ is None else environ
        scale = float(env.get(SCALE_ENV, "1"))
        origin = float(env[ORIGIN_ENV]) if ORIGIN_ENV in env else time.time()
        source = env.get(SOURCE_ENV, "wall")
        if source not in ("wall", "process"):
            raise ValueError(f"{SOURCE_ENV} must be 'wall' or 'process', got {source!r}")
        return cls(scale=scale, origin=origin, process_time=source == "process")

    def env(self) -> dict[str, str]:
        """The settings a child process needs to share this clock."""
        return {SCALE_ENV: repr(self.scale), ORIGIN_ENV: repr(self.origin)}

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        if self.process_time:
            return time.time()
        return self.origin + (time.time() - self.origin) * self.scale

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def to_wall(self, sim_seconds: float) -> float:
        """Wall seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.scale

    def to_sim(self, wall_seconds: float) -> float:
        return wall_seconds * self.scale

    def wall_time_of(self, sim_timestamp: float) -> float:
        """The wall-clock instant at which simulated time reaches ``sim_timestamp``."""
        return self.origin + (sim_timestamp - self.origin) / self.scale

    def sleep(self, sim_seconds: float) -> None:
        if sim_seconds > 0:
            time.sleep(self.to_wall(sim_seconds))

    def wait(self, event: threading.Event, sim_seconds: float) -> bool:
        """Wait for ``event`` at most ``sim_seconds`` of simulated time; True if it was set."""
        return event.wait(max(0.0, self.to_wall(sim_seconds)))


_default: Clock | None = None


def default_clock() -> Clock:
    """The process-wide clock, built once from the environment."""
    global _default
    if _default is None:
        _default = Clock.from_env()
    return _default
