"""Recent candles for the drift monitor, read from ArcticDB through the data-collection service
(``GET /api/v1/data/candles``), as plain columns.

The monitor runs as a Lambda function. Its package may not hold ArcticDB (about 71 MB on top
of the layer) nor pandas and numpy, whose current wheels also need a newer glibc than
manylinux2014. So the service that owns the store reads the candles for it, and every VPC
function may reach that service already (the spec's network flows). ``StoreCandles`` gives the
same columns straight from an ``OhlcvStore``, for code that runs where ArcticDB is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from tradai.data.keys import SeriesKey

COLUMNS = ("open", "high", "low", "close", "volume")


class CandlesUnavailable(RuntimeError):
    """The data-collection service could not be reached or refused the request."""


@dataclass(frozen=True)
class CandleColumns:
    open_time: list[int]  # epoch ms, ascending
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]


class CandleSource(Protocol):
    def columns(self, key: SeriesKey, start_ms: int, end_ms: int) -> CandleColumns: ...


class ServiceCandles:
    def __init__(self, base_url: str, http: httpx.Client | None = None,
                 timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout)

    def columns(self, key: SeriesKey, start_ms: int, end_ms: int) -> CandleColumns:
        params: dict[str, Any] = {"pair": key.pair, "timeframe": key.timeframe,
                                  "start_ms": start_ms, "end_ms": end_ms}
        try:
            resp = self.http.get(f"{self.base}/api/v1/data/candles", params=params)
        except httpx.HTTPError as exc:
            raise CandlesUnavailable(f"data collection service unreachable: "
                                     f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise CandlesUnavailable(f"data collection answered {resp.status_code} for "
                                     f"{key.pair} {key.timeframe}: {resp.text[:300]}")
        body = resp.json()
        if body.get("exchange") not in (None, key.exchange):
            raise CandlesUnavailable(f"the service holds {body['exchange']} candles, "
                                     f"not {key.exchange}")
        return CandleColumns([int(t) for t in body["open_time"]],
                             *([float(x) for x in body[c]] for c in COLUMNS))


class StoreCandles:
    """The same columns from ArcticDB directly (``tradai.data.store.OhlcvStore``)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def columns(self, key: SeriesKey, start_ms: int, end_ms: int) -> CandleColumns:
        from tradai.data.candles import open_times_ms

        frame = self.store.read(key, start_ms, end_ms)
        return CandleColumns([int(t) for t in open_times_ms(frame.index)],
                             *(frame[c].astype("float64").tolist() for c in COLUMNS))
