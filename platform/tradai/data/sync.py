"""Incremental sync: top up every target series to the newest closed candle.

Targets are the configured pairs x timeframes plus (optionally) every series already stored
for the exchange. A stored series is extended from its last candle; a new one starts
``lookback`` back. Older holes are left to ensure-data, so a tick costs one page per series
when the stack is running. Runs on the shared clock: ``run()`` ticks every ``interval_s``
simulated seconds until stopped.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from tradai.clock import Clock
from tradai.data.backfill import Backfiller
from tradai.data.exchange import ExchangeUnavailable, UnknownPair
from tradai.data.keys import SeriesKey
from tradai.data.store import StoreUnavailable
from tradai.data.timeframes import ceil_ms, last_closed_open_ms
from tradai.data.validation import CandleRange

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncConfig:
    pairs: tuple[str, ...] = ()
    timeframes: tuple[str, ...] = ("5m",)
    interval_s: float = 60.0  # simulated seconds between ticks
    lookback_s: float = 86_400.0  # history fetched for a series seen for the first time
    include_stored: bool = True
    # A series far behind is caught up at most this far back (older holes: ensure-data).
    max_catchup_candles: int = 600_000


@dataclass
class SyncOutcome:
    symbol: str
    written: int = 0
    start_ms: int | None = None
    end_ms: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "written": self.written, "start_ms": self.start_ms,
                "end_ms": self.end_ms, "error": self.error}


@dataclass
class SyncStatus:
    ticks: int = 0
    last_tick_ms: int | None = None
    last_outcomes: list[SyncOutcome] = field(default_factory=list)
    errors: int = 0


class Syncer:
    def __init__(self, backfiller: Backfiller, clock: Clock, config: SyncConfig,
                 exchange_id: str) -> None:
        self.backfiller = backfiller
        self.store = backfiller.store
        self.clock = clock
        self.config = config
        self.exchange_id = exchange_id
        self.status = SyncStatus()
        self._tick_lock = threading.Lock()

    def targets(self) -> list[SeriesKey]:
        keys = {SeriesKey(self.exchange_id, p, tf)
                for p in self.config.pairs for tf in self.config.timeframes}
        if self.config.include_stored:
            keys.update(self.store.series_keys(self.exchange_id))
        return sorted(keys)

    def tick(self, targets: list[SeriesKey] | None = None) -> list[SyncOutcome]:
        """One pass over the targets; a failing series is reported, the others still run."""
        with self._tick_lock:
            now_ms = int(self.clock.now() * 1000)
            outcomes: list[SyncOutcome] = []
            try:
                keys = targets if targets is not None else self.targets()
            except StoreUnavailable as exc:
                keys, outcomes = [], [SyncOutcome("*", error=str(exc))]
            for key in keys:
                outcomes.append(self._one(key, now_ms))
            self.status.ticks += 1
            self.status.last_tick_ms = now_ms
            self.status.last_outcomes = outcomes
            self.status.errors += sum(1 for o in outcomes if o.error)
            return outcomes

    def _one(self, key: SeriesKey, now_ms: int) -> SyncOutcome:
        out = SyncOutcome(key.symbol)
        try:
            tf = key.tf_ms
            info = self.store.describe(key)
            end = last_closed_open_ms(now_ms, tf)
            start = (info.last_ms + tf if info is not None
                     else ceil_ms(now_ms - int(self.config.lookback_s * 1000), tf))
            start = max(start, end - (self.config.max_catchup_candles - 1) * tf)
            rng = CandleRange(start, end, tf)
            out.start_ms, out.end_ms = rng.start_ms, rng.end_ms
            if rng.candles:
                out.written = self.backfiller.ensure(key, rng).written
        except (ExchangeUnavailable, UnknownPair, StoreUnavailable) as exc:
            out.error = str(exc)
            log.warning("sync of %s failed: %s", key.symbol, exc)
        return out

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug in one tick must not end the loop
                log.exception("sync tick failed")
            self.clock.wait(stop, self.config.interval_s)
