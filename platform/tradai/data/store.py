"""OHLCV series in ArcticDB: idempotent writes, date-range reads, descriptions.

Writes replace exactly the written page's time range (``Library.update`` with that
``date_range``), after merging in any stored candle of that range the page lacks. So writing a
page twice, or two overlapping pages, leaves one row per open time and loses none: the
property a resumable backfill needs. ArcticDB allows one writer per symbol; this process
serialises its own writers with a lock per symbol, and the service runs one task per symbol
owner (see the service's docs).
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tradai.data.arctic_uri import arctic_uri, redact
from tradai.data.candles import COLUMNS, empty_frame, open_times_ms, to_ms, to_timestamp
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings

# Without this the AWS C++ SDK inside ArcticDB probes the EC2 metadata endpoint (slow, and
# meaningless off EC2). Real AWS tasks get credentials from the URI's aws_auth instead.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


# A read meets a version pruned under it only while a write lands; three tries need three
# writes to the same symbol during one read.
PRUNED_READ_ATTEMPTS = 3


class StoreUnavailable(RuntimeError):
    """ArcticDB (or the object store behind it) failed; nothing was written."""


@dataclass(frozen=True)
class SeriesInfo:
    key: SeriesKey
    first_ms: int
    last_ms: int
    rows: int


class OhlcvStore:
    def __init__(self, uri: str, library: str = "ohlcv") -> None:
        self.uri = uri
        self.library_name = library
        self._lib: Any = None
        self._connect_lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: DataSettings | None = None) -> OhlcvStore:
        s = settings or DataSettings()
        return cls(arctic_uri(s), s.arcticdb_library)

    @property
    def location(self) -> str:
        return f"{redact(self.uri)} library={self.library_name}"

    @property
    def lib(self) -> Any:
        """The library, connected on first use (the service answers /health before S3 is up)."""
        with self._connect_lock:
            if self._lib is None:
                import arcticdb

                try:
                    self._lib = arcticdb.Arctic(self.uri).get_library(
                        self.library_name, create_if_missing=True)
                except Exception as exc:
                    raise StoreUnavailable(f"ArcticDB at {redact(self.uri)}: {exc}") from exc
            return self._lib

    def symbol_lock(self, key: SeriesKey) -> threading.Lock:
        with self._locks_guard:
            return self._locks[key.symbol]

    # -- writes -------------------------------------------------------------------------------

    def write(self, key: SeriesKey, frame: pd.DataFrame) -> int:
        """Store ``frame``'s candles (idempotent); returns the number of rows given."""
        if frame.empty:
            return 0
        frame = frame[COLUMNS].astype(np.float64)
        given = len(frame)
        lo, hi = frame.index[0], frame.index[-1]
        with self.symbol_lock(key):
            info = self.describe(key)
            if info is not None and info.first_ms <= to_ms(hi) and info.last_ms >= to_ms(lo):
                stored = self._call(lambda: self.lib.read(key.symbol, date_range=(lo, hi)).data)
                kept = stored[~stored.index.isin(frame.index)]
                if len(kept):
                    frame = pd.concat([kept[COLUMNS], frame]).sort_index()
            self._call(lambda: self.lib.update(key.symbol, frame, upsert=True,
                                               date_range=(lo, hi), prune_previous_versions=True))
        return given

    def delete(self, key: SeriesKey) -> None:
        with self.symbol_lock(key):
            self._call(lambda: self.lib.delete(key.symbol))

    # -- reads --------------------------------------------------------------------------------

    def read(self, key: SeriesKey, start_ms: int | None = None,
             end_ms: int | None = None) -> pd.DataFrame:
        """Candles with ``start_ms <= open time <= end_ms`` (either bound may be open)."""
        if not self._has(key):
            return empty_frame()
        rng = (_ts(start_ms), _ts(end_ms))
        return self._read_latest(lambda: self.lib.read(key.symbol, date_range=rng).data)

    def open_times(self, key: SeriesKey, start_ms: int | None = None,
                   end_ms: int | None = None) -> np.ndarray:
        """Stored open times (int64 ms) in the range, index only (no price columns read)."""
        if not self._has(key):
            return np.zeros(0, dtype=np.int64)
        rng = (_ts(start_ms), _ts(end_ms))
        frame = self._read_latest(
            lambda: self.lib.read(key.symbol, date_range=rng, columns=[]).data)
        return open_times_ms(frame.index)

    def describe(self, key: SeriesKey) -> SeriesInfo | None:
        if not self._has(key):
            return None
        d = self._read_latest(lambda: self.lib.get_description(key.symbol))
        first, last = d.date_range
        if not d.row_count or pd.isna(first) or pd.isna(last):
            return None
        return SeriesInfo(key, to_ms(pd.Timestamp(first)), to_ms(pd.Timestamp(last)), d.row_count)

    def series_keys(self, exchange: str | None = None) -> list[SeriesKey]:
        symbols = self._call(lambda: self.lib.list_symbols())
        keys = [k for k in (SeriesKey.parse(s) for s in symbols) if k is not None]
        return sorted(k for k in keys if exchange is None or k.exchange == exchange)

    def _has(self, key: SeriesKey) -> bool:
        return bool(self._call(lambda: self.lib.has_symbol(key.symbol)))

    def _read_latest(self, fn: Any) -> Any:
        """A read of the latest version, made again on a fresh connection when a writer in
        another process pruned the version this one read.

        Writes prune the previous version (``prune_previous_versions``). A read that resolved
        the latest version before such a write, or whose connection still caches the version
        list from before it (ArcticDB keeps it for a while), then fetches deleted keys and
        ArcticDB raises ``NoDataFoundException`` (a read) or ``KeyNotFoundException`` (a
        description). Reading again on the same connection meets
        the same cached version; a new connection reads the newer one. Seen under load: a
        retraining task's read of a pair the data service was updating ("failed to read key
        i:binance/BTC_USDT/5m:35:..."), and a test reading a series another process had just
        rewritten.
        """
        from arcticdb.exceptions import KeyNotFoundException, NoDataFoundException

        for _ in range(PRUNED_READ_ATTEMPTS - 1):
            try:
                return self._call(fn)
            except StoreUnavailable as exc:
                if not isinstance(exc.__cause__, (NoDataFoundException, KeyNotFoundException)):
                    raise
                self._reconnect()
        return self._call(fn)

    def _reconnect(self) -> None:
        """Drop the connection (and its cached version lists); the next use connects anew."""
        with self._connect_lock:
            self._lib = None

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except StoreUnavailable:
            raise
        except Exception as exc:
            # ArcticDB's exceptions carry the storage error (S3 unreachable, access denied).
            raise StoreUnavailable(f"ArcticDB {type(exc).__name__}: {exc}") from exc


def _ts(ms: int | None) -> pd.Timestamp | None:
    return None if ms is None else to_timestamp(ms)
