"""Fetch only the missing candles of a range, page by page, each page stored as it arrives.

Resumable by construction: the work list is recomputed from what is stored, so a process
killed mid-way leaves complete pages behind and the next run asks the exchange only for the
rest (and the store's idempotent writes make a repeated page harmless).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tradai.data.candles import to_frame
from tradai.data.gaps import Run, count_missing, missing_runs
from tradai.data.keys import SeriesKey
from tradai.data.store import OhlcvStore
from tradai.data.validation import CandleRange


class CandleSource(Protocol):
    exchange_id: str

    def fetch_ohlcv(self, pair: str, timeframe: str, since_ms: int,
                    limit: int) -> list[list[float]]: ...


@dataclass
class BackfillResult:
    key: SeriesKey
    start_ms: int
    end_ms: int
    requested: int  # candles in the range
    missing_before: int
    written: int = 0
    pages: int = 0
    # Candles the exchange does not have (before a listing, exchange-side holes).
    unavailable: int = 0
    missing_after: int = 0
    cancelled: bool = False
    runs: list[Run] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.missing_after <= self.unavailable and not self.cancelled


PageCallback = Callable[[SeriesKey, int], None]  # (key, candles written by this page)
PlanCallback = Callable[[BackfillResult], None]  # the work found missing, before fetching


class Backfiller:
    def __init__(self, store: OhlcvStore, source: CandleSource, page_limit: int = 1000) -> None:
        self.store = store
        self.source = source
        self.page_limit = page_limit

    def plan(self, key: SeriesKey, rng: CandleRange) -> list[Run]:
        stored = self.store.open_times(key, rng.start_ms, rng.end_ms)
        return missing_runs(stored, rng.start_ms, rng.end_ms, rng.tf_ms)

    def ensure(self, key: SeriesKey, rng: CandleRange, on_page: PageCallback | None = None,
               stop: threading.Event | None = None,
               on_plan: PlanCallback | None = None) -> BackfillResult:
        runs = self.plan(key, rng)
        result = BackfillResult(key, rng.start_ms, rng.end_ms, rng.candles, count_missing(runs),
                                runs=runs)
        if on_plan is not None:
            on_plan(result)
        for run in runs:
            if stop is not None and stop.is_set():
                result.cancelled = True
                break
            self._fill(key, run, rng.tf_ms, result, on_page, stop)
        if result.written or result.missing_before:
            result.missing_after = count_missing(self.plan(key, rng))
        return result

    def _fill(self, key: SeriesKey, run: Run, tf: int, result: BackfillResult,
              on_page: PageCallback | None, stop: threading.Event | None) -> None:
        since = run.start_ms
        while since <= run.end_ms:
            if stop is not None and stop.is_set():
                result.cancelled = True
                return
            limit = min(self.page_limit, (run.end_ms - since) // tf + 1)
            rows = self.source.fetch_ohlcv(key.pair, key.timeframe, since, limit)
            rows = [r for r in rows if since <= r[0] <= run.end_ms]
            result.pages += 1
            if not rows:  # nothing more from the exchange in this run
                result.unavailable += (run.end_ms - since) // tf + 1
                return
            first, last = int(rows[0][0]), int(rows[-1][0])
            # Open times the exchange skipped: before its first row, and holes inside the page.
            result.unavailable += (first - since) // tf + (last - first) // tf + 1 - len(rows)
            written = self.store.write(key, to_frame(rows))
            result.written += written
            if on_page is not None:
                on_page(key, written)
            since = last + tf
