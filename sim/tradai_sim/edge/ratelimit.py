"""Per-client request limit over a sliding window on the shared clock (spec
``edge.rate_limit``: 100 requests per 300 s). A sliding log is exact at the window's edge,
where a fixed window would allow twice the limit; 100 timestamps per client is cheap."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from tradai.clock import Clock


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after_wall: int  # seconds a client should wait (wall time: it sleeps in wall time)


class SlidingWindowLimiter:
    def __init__(self, requests: int, per_seconds: float, clock: Clock) -> None:
        if requests < 1 or per_seconds <= 0:
            raise ValueError("rate limit needs requests >= 1 and per_seconds > 0")
        self.requests = requests
        self.window = per_seconds
        self.clock = clock
        self._log: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> Decision:
        now = self.clock.now()
        with self._lock:
            log = self._log.setdefault(client, deque())
            while log and log[0] <= now - self.window:
                log.popleft()
            if len(log) < self.requests:
                log.append(now)
                return Decision(True, self.requests - len(log), 0)
            wait_sim = log[0] + self.window - now
        return Decision(False, 0, max(1, math.ceil(self.clock.to_wall(wait_sim))))
