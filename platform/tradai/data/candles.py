"""Candles as frames: CCXT's ``[ms, open, high, low, close, volume]`` rows <-> a frame indexed
by the UTC open time. One column layout everywhere keeps ArcticDB's static schema happy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

COLUMNS = ["open", "high", "low", "close", "volume"]
INDEX_NAME = "date"


def to_frame(rows: Sequence[Sequence[float]]) -> pd.DataFrame:
    """A frame from CCXT OHLCV rows (sorted, one row per open time)."""
    if not rows:
        return empty_frame()
    arr = np.asarray(rows, dtype=np.float64)
    index = pd.DatetimeIndex(pd.to_datetime(arr[:, 0].astype(np.int64), unit="ms", utc=True),
                             name=INDEX_NAME)
    frame = pd.DataFrame(arr[:, 1:6], index=index, columns=COLUMNS)
    return frame[~frame.index.duplicated(keep="last")].sort_index()


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
