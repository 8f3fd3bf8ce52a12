"""Timeframe arithmetic in epoch milliseconds. Only fixed-length timeframes are supported
(no ``1w`` / ``1M``: weeks start on Monday and months vary, so gap arithmetic would lie)."""

from __future__ import annotations

MINUTE_MS = 60_000
_UNIT_MS = {"m": MINUTE_MS, "h": 60 * MINUTE_MS, "d": 1440 * MINUTE_MS}
SUPPORTED = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")


class UnknownTimeframe(ValueError):
    pass


def timeframe_ms(timeframe: str) -> int:
    if timeframe not in SUPPORTED:
        raise UnknownTimeframe(
            f"unknown timeframe {timeframe!r}; supported: {', '.join(SUPPORTED)}")
    return int(timeframe[:-1]) * _UNIT_MS[timeframe[-1]]


def floor_ms(ts_ms: int, tf_ms: int) -> int:
    return ts_ms - ts_ms % tf_ms


def ceil_ms(ts_ms: int, tf_ms: int) -> int:
    return -(-ts_ms // tf_ms) * tf_ms


def last_closed_open_ms(now_ms: int, tf_ms: int) -> int:
    """Open time of the newest candle that has closed at ``now_ms`` (the one before the
    candle still forming)."""
    return floor_ms(now_ms, tf_ms) - tf_ms
