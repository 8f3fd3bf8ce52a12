"""``GET /api/v1/data/candles``: stored candles of one series in a range, as columns.

For readers that cannot hold ArcticDB themselves: the drift monitor runs as a Lambda function,
whose package (250 MB unzipped with its layers) has room for pandas but not for ArcticDB
(``tradai.models.candles``). Read-only; the exchange is never called.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tradai.data.candles import open_times_ms
from tradai.data.keys import BadPair, SeriesKey, normalise_pair
from tradai.data.validation import BadRequest, check_timeframe
from tradai.services.data_collection.dependencies import ServiceDep

router = APIRouter(prefix="/api/v1/data", tags=["data"])
COLUMNS = ("open", "high", "low", "close", "volume")


@router.get("/candles", summary="Stored candles of a pair and timeframe with open time in "
            "[start_ms, end_ms], as columns",
            responses={422: {"description": "Malformed pair, unknown timeframe, bad range or "
                             "more candles than one answer holds"},
                       503: {"description": "The store is unreachable"}})
def candles(svc: ServiceDep, pair: Annotated[str, Query()], timeframe: Annotated[str, Query()],
            start_ms: Annotated[int, Query(ge=0)],
            end_ms: Annotated[int, Query(ge=0)]) -> dict[str, Any]:
    try:
        key = SeriesKey(svc.data.exchange_id, normalise_pair(pair), timeframe)
    except BadPair as exc:
        raise BadRequest("pair", str(exc)) from exc
    step = check_timeframe(timeframe)
    if end_ms < start_ms:
        raise BadRequest("end_ms", "end_ms is before start_ms")
    count = (end_ms - start_ms) // step + 1
    if count > svc.data.max_candles:
        raise BadRequest("end_ms", f"{count} candles asked, at most {svc.data.max_candles} "
                                   "per request")
    frame = svc.store.read(key, start_ms, end_ms)
    out: dict[str, Any] = {"exchange": key.exchange, "pair": key.pair, "timeframe": timeframe,
                           "start_ms": start_ms, "end_ms": end_ms,
                           "open_time": [int(t) for t in open_times_ms(frame.index)]}
    for column in COLUMNS:
        out[column] = [float(v) for v in frame[column].to_numpy()] if len(frame) else []
    return out
