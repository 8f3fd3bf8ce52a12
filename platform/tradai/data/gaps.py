"""Which candles of a range are missing, from the stored open times (pure, vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Run:
    """A run of consecutive missing candles: open times ``start_ms..end_ms`` inclusive."""

    start_ms: int
    end_ms: int
    count: int


def missing_runs(times_ms: np.ndarray, start_ms: int, end_ms: int, tf_ms: int) -> list[Run]:
    """Runs of open times in ``[start_ms, end_ms]`` (aligned to ``tf_ms``) not in ``times_ms``.

    ``times_ms`` must be sorted and unique (a stored index is); times outside the range or
    off the timeframe's grid are ignored.
    """
    if end_ms < start_ms:
        return []
    t = np.asarray(times_ms, dtype=np.int64)
    t = t[(t >= start_ms) & (t <= end_ms) & ((t - start_ms) % tf_ms == 0)]
    bounds = np.concatenate(([start_ms - tf_ms], t, [end_ms + tf_ms]))
    steps = np.diff(bounds)
    holes = np.nonzero(steps > tf_ms)[0]
    return [Run(int(bounds[i] + tf_ms), int(bounds[i + 1] - tf_ms), int(steps[i] // tf_ms - 1))
            for i in holes]


def internal_gaps(times_ms: np.ndarray, tf_ms: int) -> list[Run]:
    """Holes between the first and the last stored candle."""
    if len(times_ms) < 2:
        return []
    return missing_runs(times_ms, int(times_ms[0]), int(times_ms[-1]), tf_ms)


def count_missing(runs: list[Run]) -> int:
    return sum(r.count for r in runs)
