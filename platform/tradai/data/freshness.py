"""How current a series is, against the shared clock's now.

``age`` is the time since the newest stored candle closed. The newest candle that can be
stored is the last closed one (the current candle is still forming), so a series is *fresh*
while it lags at most ``max_lag_candles`` closed candles behind (one by default: a sync tick
may not have run yet), *stale* beyond that, *missing* when nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tradai.data.keys import SeriesKey
from tradai.data.store import SeriesInfo
from tradai.data.timeframes import last_closed_open_ms


class Verdict(StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"


@dataclass(frozen=True)
class Freshness:
    key: SeriesKey
    verdict: Verdict
    now_ms: int
    expected_last_ms: int  # open time of the newest closed candle
    max_age_s: float
    first_ms: int | None = None
    last_ms: int | None = None
    rows: int = 0
    age_s: float | None = None
    lag_candles: int | None = None


def assess(key: SeriesKey, info: SeriesInfo | None, now_ms: int,
           max_lag_candles: int = 1) -> Freshness:
    tf = key.tf_ms
    expected = last_closed_open_ms(now_ms, tf)
    max_age_s = (max_lag_candles + 1) * tf / 1000
    if info is None:
        return Freshness(key, Verdict.MISSING, now_ms, expected, max_age_s)
    lag = max(0, (expected - info.last_ms) // tf)
    verdict = Verdict.FRESH if lag <= max_lag_candles else Verdict.STALE
    age_s = (now_ms - (info.last_ms + tf)) / 1000
    return Freshness(key, verdict, now_ms, expected, max_age_s, info.first_ms, info.last_ms,
                     info.rows, age_s, lag)
