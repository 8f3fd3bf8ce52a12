"""Candles as frames: CCXT's ``[ms, open, high, low, close, volume]`` rows <-> a frame indexed
by the UTC open time. One column layout everywhere keeps ArcticDB's static schema happy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

COLUMNS = ["open", "high", "low", "close", "volume"]
INDEX_NAME = "date"


def to_frame(rows: Sequence[Sequence[float]] | np.ndarray) -> pd.DataFrame:
    """A frame from CCXT OHLCV rows, or an ``(n, 6)`` array of them (sorted, one row per open
    time)."""
    if len(rows) == 0:
        return empty_frame()
    arr = np.asarray(rows, dtype=np.float64)
    index = pd.DatetimeIndex(pd.to_datetime(arr[:, 0].astype(np.int64), unit="ms", utc=True),
                             name=INDEX_NAME)
    frame = pd.DataFrame(arr[:, 1:6], index=index, columns=COLUMNS)
    if index.is_monotonic_increasing and index.is_unique:  # the usual case: no copy
        return frame
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def page_array(rows: Sequence[Sequence[float]], start_ms: int, end_ms: int) -> np.ndarray:
    """CCXT rows with ``start_ms <= open time <= end_ms`` as an ``(n, 6)`` float64 array,
    sorted by open time, one row per open time (the last one wins), in one vectorised pass."""
    if not rows:
        return np.zeros((0, 6))
    arr = np.asarray(rows, dtype=np.float64)[:, :6]
    t = arr[:, 0]
    arr = arr[(t >= start_ms) & (t <= end_ms)]
    if len(arr) > 1 and not np.all(np.diff(arr[:, 0]) > 0):
        # unsorted or repeated open times: keep the last row of each, sorted
        _, last = np.unique(arr[::-1, 0], return_index=True)
        arr = arr[len(arr) - 1 - last]
    return arr


def empty_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name=INDEX_NAME)
    return pd.DataFrame({c: np.zeros(0) for c in COLUMNS}, index=index)


def open_times_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """Open times as int64 epoch milliseconds."""
    return index.as_unit("ms").asi8


def to_timestamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def to_ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)
