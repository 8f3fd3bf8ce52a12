"""Fetch only the missing candles of a range, page by page, stored in batches.

Resumable by construction: the work list is recomputed from what is stored, so a process
killed mid-way leaves whole batches behind and the next run asks the exchange only for the
rest (and the store's idempotent writes make a repeated candle harmless).

Batched, pipelined writes: one ArcticDB write is a round of S3 requests (version lookup,
index, data segment, version, ref, pruning) whatever its size, so one write per 1000-candle
page made the store the bottleneck. Pages are gathered into a batch and a batch is handed to
one writer thread, which writes it while the next batch is fetched. A batch is handed over

- when it holds ``batch_candles`` (default 100,000: one ArcticDB segment), waiting for the
  writer if it is still busy (memory stays bounded: one batch written, one gathered);
- when its oldest page has waited ``batch_s`` seconds and the writer is free (a slow
  exchange still sees its pages stored, and progress reported, about every ``batch_s``);
- always at the end of ``ensure``, on cancellation, and when fetching fails (what was
  fetched is stored before the error propagates).

Batches are written in fetch order, one at a time, and a candle counts as written (result,
``on_page``) only once its batch is stored. So the store always holds a prefix of the work:
a killed process loses at most the batch being written and the one being gathered (at most
``2 * batch_candles`` candles, in practice about ``batch_s`` seconds of fetching plus one
write), and the resume re-fetches exactly those, since they are missing from the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tradai.data.candles import page_array, to_frame
from tradai.data.gaps import Run, count_missing, missing_runs
from tradai.data.keys import SeriesKey
from tradai.data.store import OhlcvStore
from tradai.data.validation import CandleRange

log = logging.getLogger(__name__)

BATCH_CANDLES = 100_000  # ArcticDB's default rows per segment
BATCH_S = 0.5


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
    written: int = 0  # stored (counted when their batch is written)
    pages: int = 0  # exchange calls
    # Candles the exchange does not have (before a listing, exchange-side holes).
    unavailable: int = 0
    missing_after: int = 0
    cancelled: bool = False
    runs: list[Run] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.missing_after <= self.unavailable and not self.cancelled


# (key, candles of one page), called once per page after the batch holding it is stored, on
# the thread that called ``ensure``.
PageCallback = Callable[[SeriesKey, int], None]
PlanCallback = Callable[[BackfillResult], None]  # the work found missing, before fetching


class Backfiller:
    def __init__(self, store: OhlcvStore, source: CandleSource, page_limit: int = 1000,
                 batch_candles: int = BATCH_CANDLES, batch_s: float = BATCH_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.source = source
        self.page_limit = page_limit
        self.batch_candles = batch_candles
        # Wall seconds: this bounds the work a killed process loses, a property of the
        # process, not of simulated time.
        self.batch_s = batch_s
        self._monotonic = monotonic

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
        batches = _Batches(self, key, result, on_page)
        try:
            for run in runs:
                if stop is not None and stop.is_set():
                    result.cancelled = True
                    break
                self._fill(key, run, rng.tf_ms, result, batches, stop)
        except Exception:
            batches.close(flush=True, quiet=True)  # keep what was fetched; the error wins
            raise
        except BaseException:
            batches.close(flush=False)  # the process is going down, as if killed
            raise
        batches.close(flush=True)
        if result.written or result.missing_before:
            result.missing_after = count_missing(self.plan(key, rng))
        return result

    def _fill(self, key: SeriesKey, run: Run, tf: int, result: BackfillResult,
              batches: _Batches, stop: threading.Event | None) -> None:
        since = run.start_ms
        while since <= run.end_ms:
            if stop is not None and stop.is_set():
                result.cancelled = True
                return
            limit = min(self.page_limit, (run.end_ms - since) // tf + 1)
            page = page_array(self.source.fetch_ohlcv(key.pair, key.timeframe, since, limit),
                              since, run.end_ms)
            result.pages += 1
            if not len(page):  # nothing more from the exchange in this run
                result.unavailable += (run.end_ms - since) // tf + 1
                return
            first, last = int(page[0, 0]), int(page[-1, 0])
            # Open times the exchange skipped: before its first row, and holes inside the page.
            result.unavailable += (first - since) // tf + (last - first) // tf + 1 - len(page)
            batches.add(page)
            since = last + tf


class _Batches:
    """The pages of one ``ensure`` call, gathered into batches written in order by one writer
    thread (started on the first hand-over: a one-batch call writes on the caller's thread)."""

    def __init__(self, bf: Backfiller, key: SeriesKey, result: BackfillResult,
                 on_page: PageCallback | None) -> None:
        self._bf, self._key, self._result, self._on_page = bf, key, result, on_page
        self._pages: list[np.ndarray] = []
        self._size = 0
        self._oldest = 0.0  # when the first page of the gathering batch arrived
        self._pool: ThreadPoolExecutor | None = None
        self._writing: tuple[Future[int], list[int]] | None = None
        self._failed = False  # a write failed: later batches are not written (prefix kept)

    def add(self, page: np.ndarray) -> None:
        if not self._pages:
            self._oldest = self._bf._monotonic()
        self._pages.append(page)
        self._size += len(page)
        self._collect(wait=False)  # report a finished write (or raise its error) promptly
        due = self._bf._monotonic() - self._oldest >= self._bf.batch_s
        if self._size >= self._bf.batch_candles or (due and self._writing is None):
            self._hand_over()

    def close(self, flush: bool, quiet: bool = False) -> None:
        try:
            if flush:
                self._collect(wait=True)
                # the last batch: on this thread, there is nothing left to overlap with
                if self._pages and not self._failed:
                    pages, counts = self._take()
                    self._write(pages)
                    self._stored(counts)
        except Exception:
            if not quiet:
                raise
            log.warning("backfill of %s: could not store the fetched batch", self._key.symbol,
                        exc_info=True)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def _hand_over(self) -> None:
        self._collect(wait=True)
        pages, counts = self._take()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"write-{self._key.symbol}")
        self._writing = (self._pool.submit(self._write, pages), counts)

    def _take(self) -> tuple[list[np.ndarray], list[int]]:
        pages, self._pages, self._size = self._pages, [], 0
        return pages, [len(p) for p in pages]

    def _write(self, pages: list[np.ndarray]) -> int:
        return self._bf.store.write(self._key, to_frame(np.concatenate(pages)))

    def _collect(self, wait: bool) -> None:
        if self._writing is None or not (wait or self._writing[0].done()):
            return
        (done, counts), self._writing = self._writing, None
        if done.exception() is not None:
            self._failed = True
        done.result()  # StoreUnavailable propagates to ensure's caller
        self._stored(counts)

    def _stored(self, counts: list[int]) -> None:
        for n in counts:
            self._result.written += n
            if self._on_page is not None:
                self._on_page(self._key, n)
