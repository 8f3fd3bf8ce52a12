"""One thread that runs callbacks at simulated instants (replacements, heartbeat timeouts)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from tradai.clock import Clock

log = logging.getLogger(__name__)


class SimTimers:
    def __init__(self, clock: Clock, name: str) -> None:
        self.clock = clock
        self.name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def at(self, sim_ts: float, fn: Callable[[], None]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (sim_ts, next(self._seq), fn))
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        delay = self.clock.wall_time_of(self._heap[0][0]) - time.time()
                        if delay <= 0:
                            break
                        self._cond.wait(delay)
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:
                log.exception("%s: timer callback failed", self.name)
