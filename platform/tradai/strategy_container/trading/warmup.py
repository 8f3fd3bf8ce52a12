"""Warm-up candles straight from ArcticDB into the bot's candle cache.

A bot started cold asks the exchange for its history; the platform already holds it. The
version's ``warmup_days`` of closed candles per pair are read from the store and handed to
Freqtrade's exchange cache (the same structures its own refresh fills), so its first refresh
only asks the exchange for the candles after the newest stored one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tradai.data.keys import SeriesKey
from tradai.data.store import OhlcvStore
from tradai.data.timeframes import timeframe_ms
from tradai.strategy_container.data import EXCHANGE, to_freqtrade

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Warmup:
    frames: dict[str, pd.DataFrame]  # pair -> Freqtrade's columns, closed candles only

    @property
    def candles(self) -> int:
        return sum(len(f) for f in self.frames.values())

    def last_candle(self) -> pd.Timestamp | None:
        ends = [f["date"].iloc[-1] for f in self.frames.values() if not f.empty]
        return max(ends) if ends else None


def read(store: OhlcvStore, pairs: list[str], timeframe: str, days: int,
         now_ms: int) -> Warmup:
    tf = timeframe_ms(timeframe)
    last_closed_open = (now_ms // tf) * tf - tf  # the candle that is open now is not final
    start = last_closed_open - days * DAY_MS
    frames = {}
    for pair in pairs:
        frame = store.read(SeriesKey(EXCHANGE, pair, timeframe), start, last_closed_open)
        frames[pair] = to_freqtrade(frame) if not frame.empty else pd.DataFrame()
        log.info("warm-up %s %s: %d candles from ArcticDB", pair, timeframe, len(frame))
    return Warmup(frames)


def seed(exchange: Any, warmup: Warmup, timeframe: str) -> int:
    """Puts the candles in Freqtrade's exchange cache; returns the pairs seeded."""
    from freqtrade.enums import CandleType

    seeded = 0
    for pair, frame in warmup.frames.items():
        if frame.empty:
            continue
        key = (pair, timeframe, CandleType.SPOT)
        exchange._klines[key] = frame.reset_index(drop=True)
        exchange._pairs_last_refresh_time[key] = int(frame["date"].iloc[-1].timestamp() * 1000)
        seeded += 1
    return seeded
