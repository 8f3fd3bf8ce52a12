"""Bad requests, named by field: unknown timeframe, inverted / future / oversized range.

A range is of candle open times, both ends inclusive, on the shared clock. The accepted range
is aligned to the timeframe and clamped to the newest closed candle (the forming candle is
never stored, it would change)."""

from __future__ import annotations

from dataclasses import dataclass

from tradai.data.candles import to_timestamp
from tradai.data.timeframes import (
    UnknownTimeframe,
    ceil_ms,
    floor_ms,
    last_closed_open_ms,
    timeframe_ms,
)


class BadRequest(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class CandleRange:
    start_ms: int
    end_ms: int  # inclusive; < start_ms when nothing has closed in the range yet
    tf_ms: int

    @property
    def candles(self) -> int:
        return max(0, (self.end_ms - self.start_ms) // self.tf_ms + 1)


def check_timeframe(timeframe: str, field: str = "timeframe") -> int:
    try:
        return timeframe_ms(timeframe)
    except UnknownTimeframe as exc:
        raise BadRequest(field, str(exc)) from exc


def check_range(timeframe: str, start_ms: int, end_ms: int | None, now_ms: int,
                max_candles: int) -> CandleRange:
    """The aligned, clamped range, or :class:`BadRequest` naming the offending field."""
    tf = check_timeframe(timeframe)
    if start_ms > now_ms:
        raise BadRequest("start", f"start {_iso(start_ms)} is in the future (now {_iso(now_ms)})")
    if end_ms is not None:
        if end_ms <= start_ms:
            raise BadRequest("end", f"end {_iso(end_ms)} is not after start {_iso(start_ms)}")
        if end_ms > now_ms + tf:
            raise BadRequest("end", f"end {_iso(end_ms)} is in the future (now {_iso(now_ms)})")
    last = last_closed_open_ms(now_ms, tf)
    end = last if end_ms is None else min(floor_ms(end_ms, tf), last)
    rng = CandleRange(ceil_ms(start_ms, tf), end, tf)
    if rng.candles > max_candles:
        raise BadRequest("start", f"range {_iso(start_ms)}..{_iso(end_ms or now_ms)} is "
                         f"{rng.candles} {timeframe} candles, over the cap of {max_candles} "
                         "(TRADAI_DATA_MAX_CANDLES); split the request")
    return rng


def _iso(ms: int) -> str:
    return to_timestamp(ms).isoformat()
