"""ArcticDB store on LMDB: idempotent overlapping writes, range reads, descriptions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradai.data.candles import COLUMNS, open_times_ms, page_array, to_frame
from tradai.data.keys import SeriesKey
from tradai.data.store import OhlcvStore

M5 = 300_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
KEY = SeriesKey("binance", "BTC/USDT", "5m")


def rows(first: int, count: int, bump: float = 0.0) -> list[list[float]]:
    """Deterministic candles whose values encode their open time (and a version bump)."""
    out = []
    for i in range(count):
        t = T0 + (first + i) * M5
        base = 100.0 + first + i + bump
        out.append([t, base, base + 2, base - 1, base + 1, 10.0 + i])
    return out


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[OhlcvStore]:
    yield OhlcvStore(f"lmdb://{tmp_path / 'db'}", "ohlcv")


def stored_times(store: OhlcvStore) -> np.ndarray:
    return store.open_times(KEY)


def test_write_then_read_roundtrip(store: OhlcvStore) -> None:
    frame = to_frame(rows(0, 50))
    assert store.write(KEY, frame) == 50
    back = store.read(KEY)
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    assert list(back.columns) == COLUMNS and str(back.index.tz) == "UTC"


def test_same_page_twice_leaves_one_row_per_candle(store: OhlcvStore) -> None:
    store.write(KEY, to_frame(rows(0, 100)))
    store.write(KEY, to_frame(rows(0, 100)))
    times = stored_times(store)
    assert len(times) == 100 and len(np.unique(times)) == 100


def test_overlapping_pages_no_duplicate_no_missing(store: OhlcvStore) -> None:
    store.write(KEY, to_frame(rows(0, 100)))
    store.write(KEY, to_frame(rows(60, 100)))  # overlaps 60..99
    store.write(KEY, to_frame(rows(30, 20)))  # inside
    times = stored_times(store)
    assert np.array_equal(times, T0 + np.arange(160) * M5)


def test_rewrite_wins_inside_range_and_keeps_what_page_lacks(store: OhlcvStore) -> None:
    store.write(KEY, to_frame(rows(0, 10)))
    # A page covering 2..8 that lacks candle 5 (exchange hole) must not delete stored candle 5.
    page = [r for r in rows(2, 7, bump=0.5) if r[0] != T0 + 5 * M5]
    store.write(KEY, to_frame(page))
    back = store.read(KEY)
    assert len(back) == 10
    opens = back["open"].to_numpy()
    assert opens[5] == 105.0  # the stored one kept
    assert opens[3] == 103.5 and opens[0] == 100.0  # the page's values won in its range


def test_write_before_and_after_stored_range(store: OhlcvStore) -> None:
    store.write(KEY, to_frame(rows(100, 10)))
    store.write(KEY, to_frame(rows(0, 10)))  # before, leaving a hole 10..99
    store.write(KEY, to_frame(rows(200, 10)))
    times = stored_times(store)
    assert len(times) == 30 and np.all(np.diff(times) > 0)


def test_read_by_date_range_is_inclusive(store: OhlcvStore) -> None:
    store.write(KEY, to_frame(rows(0, 100)))
    part = store.read(KEY, T0 + 10 * M5, T0 + 19 * M5)
    assert len(part) == 10
    assert open_times_ms(part.index)[0] == T0 + 10 * M5
    assert len(store.open_times(KEY, T0 + 95 * M5)) == 5


def test_describe_and_series_keys(store: OhlcvStore) -> None:
    assert store.describe(KEY) is None
    assert store.read(KEY).empty and len(store.open_times(KEY)) == 0
    store.write(KEY, to_frame(rows(5, 20)))
    other = SeriesKey("binance", "ETH/USDT", "1h")
    store.write(other, to_frame([[T0, 1, 2, 0.5, 1.5, 3]]))
    info = store.describe(KEY)
    assert info is not None
    assert (info.first_ms, info.last_ms, info.rows) == (T0 + 5 * M5, T0 + 24 * M5, 20)
    assert store.series_keys() == sorted([KEY, other])
    assert store.series_keys("kraken") == []


def test_empty_write_is_a_no_op(store: OhlcvStore) -> None:
    assert store.write(KEY, to_frame([])) == 0
    assert store.describe(KEY) is None


def test_page_array_keeps_the_range_sorted_one_row_per_open_time() -> None:
    page = [[T0 + 3 * M5, 1, 1, 1, 1, 1], [T0 + M5, 2, 2, 2, 2, 2], [T0 + 3 * M5, 9, 9, 9, 9, 9],
            [T0, 4, 4, 4, 4, 4], [T0 + 9 * M5, 5, 5, 5, 5, 5]]
    arr = page_array(page, T0 + M5, T0 + 5 * M5)  # drops T0 and T0 + 9 * M5
    assert arr[:, 0].tolist() == [T0 + M5, T0 + 3 * M5] and arr[1, 1] == 9  # the last one wins
    assert page_array([], T0, T0).shape == (0, 6)
    pd.testing.assert_frame_equal(to_frame(page_array(rows(0, 20), T0, T0 + 99 * M5)),
                                  to_frame(rows(0, 20)))


def test_a_read_whose_version_was_pruned_meanwhile_reads_the_newer_one(
        tmp_path: Path) -> None:
    """A writer in another process prunes the version a reader's connection knows as the
    latest (ArcticDB caches the version list per connection); the read then fails with
    NoDataFoundException (seen in a retraining task, "failed to read key
    i:binance/BTC_USDT/5m:35:...", and in a test reading a series another process had just
    rewritten). Two stores on one LMDB library, as two processes: each kind of read gets the
    writer's newest version."""
    uri = f"lmdb://{tmp_path / 'db'}"
    reader, writer = OhlcvStore(uri, "ohlcv"), OhlcvStore(uri, "ohlcv")
    writer.write(KEY, to_frame(rows(0, 50)))
    assert reader.read(KEY)["open"].iloc[0] == 100.0  # the reader now knows version 0
    first_connection = reader.lib

    writer.write(KEY, to_frame(rows(0, 50, bump=1.0)))  # version 1; version 0 pruned
    assert reader.read(KEY)["open"].iloc[0] == 101.0
    assert reader.lib is not first_connection  # read again on a fresh connection

    writer.write(KEY, to_frame(rows(50, 10)))  # version 2; version 1 pruned
    assert len(reader.open_times(KEY)) == 60
    writer.write(KEY, to_frame(rows(60, 10)))  # version 3
    assert reader.describe(KEY).rows == 70  # type: ignore[union-attr]


def test_a_read_that_keeps_missing_its_keys_is_store_unavailable(
        store: OhlcvStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version that stays unreadable (not a race: a key lost in the bucket) is reported after
    a bounded number of tries, each on a fresh connection, as the store's own error naming
    ArcticDB's."""
    from tradai.data.store import PRUNED_READ_ATTEMPTS, StoreUnavailable

    store.write(KEY, to_frame(rows(0, 50)))
    store.write(KEY, to_frame(rows(0, 50, bump=1.0)))  # version 0 pruned
    connect = OhlcvStore.lib.fget  # type: ignore[attr-defined]
    connections: list[object] = []
    reads: list[str] = []

    def stale(self: OhlcvStore) -> object:
        lib = connect(self)
        if lib not in connections:  # every connection reads the pruned version
            connections.append(lib)
            real_read = lib.read

            def read(symbol: str, **kw: object) -> object:
                reads.append(symbol)
                return real_read(symbol, **{**kw, "as_of": 0})

            lib.read = read
        return lib

    monkeypatch.setattr(OhlcvStore, "lib", property(stale))
    with pytest.raises(StoreUnavailable, match="ArcticDB NoSuchVersionException"):
        store.read(KEY)
    assert len(reads) == len(connections) == PRUNED_READ_ATTEMPTS
