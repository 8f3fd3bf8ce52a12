"""Freqtrade's backtest progress as the job's percent, reported while Freqtrade runs.

Freqtrade tracks a backtest with two bars: one over its phases (data load, analyze, convert,
backtest: ``total`` 4, ``completed`` the phases done) and one over the work of the current
phase. Its ``Backtesting(progress_callback=...)`` hands each update to a callback instead of
drawing the bars, which in a container only went to the log, and whose refresh thread took
the interpreter lock from the backtest loop (0.3-0.6 s of CPU per 2-pair, 90-day run:
``docs/performance.md``). Here the two bars become one percent between the job's "Freqtrade
started" and "published" marks, reported at most every ``every_s`` wall seconds: a short run
costs no request, a long one shows the user where it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

PHASES = 4  # Freqtrade's overall bar: DATALOAD, ANALYZE, CONVERT, BACKTEST (BacktestState)


class ProgressTask(Protocol):
    """What Freqtrade passes: a ``rich.progress.Task``."""

    id: Any
    description: str
    total: float | None
    completed: float


class FreqtradeProgress:
    """Pass as ``progress_callback``; calls ``report(percent, phase)`` when due."""

    def __init__(self, report: Callable[[float, str], None], start: float = 40.0,
                 end: float = 90.0, every_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.report = report
        self.start, self.end = start, end
        self.every_s = every_s
        self.monotonic = monotonic
        self.percent = start
        self.phase = ""
        self._tasks: dict[Any, ProgressTask] = {}
        self._last = monotonic()

    def __call__(self, task: ProgressTask) -> None:
        self._tasks[task.id] = task
        done = self._fraction()
        if done is None:
            return
        # Never backwards: a new phase restarts the detail bar, not the job.
        self.percent = max(self.percent, round(self.start + (self.end - self.start) * done, 1))
        now = self.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            self.report(self.percent, self.phase)

    def _fraction(self) -> float | None:
        """Phases done plus the current phase's share, over all phases; None until the
        overall bar (the first one Freqtrade adds) has a phase."""
        ids = sorted(self._tasks)
        overall = self._tasks[ids[0]]
        if len(ids) < 2 or not overall.total:
            return None
        detail = self._tasks[ids[-1]]
        self.phase = overall.description
        # The overall bar counts from STARTUP: DATALOAD is completed == 1.
        phases_done = max(overall.completed - 1, 0)
        # Freqtrade moves the overall bar first, then restarts the detail bar with the same
        # description: until then the detail bar still counts the phase before.
        current = detail.description == overall.description and detail.total
        within = detail.completed / detail.total if current else 0.0
        return min((phases_done + min(within, 1.0)) / PHASES, 1.0)
