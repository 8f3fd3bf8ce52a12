"""``GET /api/v1/data/freshness`` and ``GET /api/v1/data/metadata``: read-only views of the
store on the shared clock (no exchange call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tradai.data.freshness import assess
from tradai.data.gaps import internal_gaps
from tradai.data.keys import SeriesKey
from tradai.data.validation import BadRequest
from tradai.services.data_collection.dependencies import DataCollection, ServiceDep
from tradai.services.data_collection.models import (
    FreshnessReport,
    Metadata,
    check_pairs,
    check_timeframe,
    from_ms,
)
from tradai.services.data_collection.views import freshness_view, stored_view

router = APIRouter(prefix="/api/v1/data", tags=["data"])

ListQuery = Annotated[list[str] | None, Query(description="repeat or comma-separate")]


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@router.get("/freshness", response_model=FreshnessReport,
            summary="Per pair / timeframe: newest candle, its age, verdict, gaps",
            responses={422: {"description": "Malformed pair or unknown timeframe"},
                       503: {"description": "The store is unreachable"}})
def freshness(svc: ServiceDep, pairs: ListQuery = None,
              timeframes: ListQuery = None) -> FreshnessReport:
    keys = _select(svc, _checked(pairs, "pairs"), _checked(timeframes, "timeframes"))
    now_ms = svc.now_ms()
    series = []
    for key in keys:
        info = svc.store.describe(key)
        gaps = internal_gaps(svc.store.open_times(key), key.tf_ms) if info else []
        series.append(freshness_view(assess(key, info, now_ms, svc.data.max_lag_candles), gaps,
                                     svc.data.max_gaps_listed))
    return FreshnessReport(exchange=svc.data.exchange_id, now=from_ms(now_ms), series=series)


@router.get("/metadata", response_model=Metadata,
            summary="Which symbols, timeframes and ranges are stored",
            responses={503: {"description": "The store is unreachable"}})
def metadata(svc: ServiceDep) -> Metadata:
    infos = [svc.store.describe(k) for k in svc.store.series_keys()]
    return Metadata(exchange=svc.data.exchange_id, store=svc.store.location,
                    library=svc.store.library_name,
                    series=[stored_view(i) for i in infos if i is not None])


def _checked(values: list[str] | None, field: str) -> list[str]:
    check = check_pairs if field == "pairs" else (lambda v: [check_timeframe(t) for t in v])
    try:
        return check(_split(values))
    except ValueError as exc:
        raise BadRequest(field, str(exc)) from exc


def _select(svc: DataCollection, pairs: list[str], timeframes: list[str]) -> list[SeriesKey]:
    """Stored series and sync targets, filtered; asked-for pairs x timeframes always appear
    (as missing when not stored)."""
    ex = svc.data.exchange_id
    cfg = svc.syncer.config
    known = set(svc.store.series_keys(ex)) | {SeriesKey(ex, p, tf) for p in cfg.pairs
                                       for tf in cfg.timeframes}
    keys = {k for k in known if (not pairs or k.pair in pairs)
            and (not timeframes or k.timeframe in timeframes)}
    if pairs:
        for p in pairs:
            for tf in timeframes or ([] if any(k.pair == p for k in keys) else cfg.timeframes):
                keys.add(SeriesKey(ex, p, tf))
    return sorted(keys)
