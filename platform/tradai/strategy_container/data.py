"""Market data for the run: the job's OHLCV range (plus the strategy's startup candles) from
ArcticDB into Freqtrade's data format (feather files written by Freqtrade's own data handler,
so Freqtrade reads exactly what we hand it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd

from tradai.data.keys import SeriesKey
from tradai.data.store import OhlcvStore, StoreUnavailable
from tradai.data.timeframes import UnknownTimeframe, timeframe_ms
from tradai.strategy_container.errors import BadJob, DependencyFailed, NoMarketData

log = logging.getLogger(__name__)
EXCHANGE = "binance"  # the symbol prefix the data collection service writes
PARALLEL_PAIRS = 4  # pairs read from ArcticDB at once
T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """Open times to copy, in epoch ms: [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    timerange: str


def window(timerange: str, timeframe: str, startup_candles: int) -> Window:
    """Freqtrade's ``YYYYMMDD-YYYYMMDD`` (start inclusive, stop exclusive) widened at the start
    by the strategy's startup candles, which Freqtrade loads before the range."""
    try:
        start_text, stop_text = timerange.split("-")
        start = datetime.strptime(start_text, "%Y%m%d").replace(tzinfo=UTC)
        stop = datetime.strptime(stop_text, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise BadJob(f"timerange {timerange!r} is not YYYYMMDD-YYYYMMDD") from None
    if stop <= start:
        raise BadJob(f"timerange {timerange!r} is empty or inverted")
    try:
        tf_ms = timeframe_ms(timeframe)
    except UnknownTimeframe as exc:
        raise BadJob(str(exc)) from exc
    start_ms = int(start.timestamp() * 1000) - max(startup_candles, 0) * tf_ms
    return Window(start_ms, int(stop.timestamp() * 1000), timerange)


def check_available(store: OhlcvStore, pairs: list[str], timeframe: str, win: Window) -> None:
    """Fail fast (before Freqtrade is even imported) when a pair has no candle in the range."""
    def describe(pair: str) -> None:
        key = SeriesKey(EXCHANGE, pair, timeframe)
        try:
            info = store.describe(key)
        except StoreUnavailable as exc:
            raise DependencyFailed(f"market data store unavailable: {exc}") from exc
        if info is None or info.last_ms < win.start_ms or info.first_ms >= win.end_ms:
            raise NoMarketData(f"no market data for {pair} {timeframe} in {win.timerange} "
                               f"(ArcticDB symbol {key.symbol}); ensure the data first")

    _each_pair(describe, pairs)


def export_feather(store: OhlcvStore, pairs: list[str], timeframe: str, win: Window,
                   datadir: Path) -> dict[str, int]:
    """Write one feather file per pair; returns candles written per pair. A pair without any
    candle in the range fails the run with a message naming pair, timeframe and range."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    handler = get_datahandler(datadir, "feather")

    def export(pair: str) -> int:
        key = SeriesKey(EXCHANGE, pair, timeframe)
        try:
            frame = store.read(key, win.start_ms, win.end_ms - 1)
        except StoreUnavailable as exc:
            raise DependencyFailed(f"market data store unavailable: {exc}") from exc
        if frame.empty:
            raise NoMarketData(f"no market data for {pair} {timeframe} in {win.timerange} "
                               f"(ArcticDB symbol {key.symbol}); ensure the data first")
        handler.ohlcv_store(pair, timeframe, to_freqtrade(frame), CandleType.SPOT)
        log.info("%s %s: %d candles %s .. %s", pair, timeframe, len(frame),
                 frame.index[0], frame.index[-1])
        return len(frame)

    return dict(zip(pairs, _each_pair(export, pairs), strict=True))


def _each_pair(fn: Callable[[str], T], pairs: list[str]) -> list[T]:
    """``fn`` for every pair, a few at once: ArcticDB's reads wait on S3 without the GIL, so
    pairs overlap (the first failure, in pair order, is raised)."""
    if len(pairs) <= 1:
        return [fn(p) for p in pairs]
    with ThreadPoolExecutor(max_workers=min(len(pairs), PARALLEL_PAIRS)) as pool:
        return list(pool.map(fn, pairs))


def to_freqtrade(frame: pd.DataFrame) -> pd.DataFrame:
    """ArcticDB's frame (indexed by open time) as Freqtrade's columns: date (UTC) first."""
    out = frame[["open", "high", "low", "close", "volume"]].astype("float64").copy()
    index = pd.DatetimeIndex(frame.index)
    out.insert(0, "date", index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC"))
    return out.reset_index(drop=True)
