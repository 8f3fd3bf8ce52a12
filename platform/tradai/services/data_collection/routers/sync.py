"""``GET /api/v1/data/sync`` (the background sync's configuration and last tick) and
``POST /api/v1/data/sync`` (one tick now, for every target or the ones asked for)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from tradai.data.keys import SeriesKey
from tradai.services.data_collection.dependencies import ServiceDep
from tradai.services.data_collection.models import SyncRequest, SyncStatusView, from_ms
from tradai.services.data_collection.views import sync_outcome_view

router = APIRouter(prefix="/api/v1/data", tags=["sync"])


@router.get("/sync", response_model=SyncStatusView, summary="Incremental sync status")
def sync_status(svc: ServiceDep) -> SyncStatusView:
    return _status(svc)


@router.post("/sync", response_model=SyncStatusView,
             summary="Top up the sync targets (or the given pairs / timeframes) now",
             responses={503: {"description": "Every series failed: exchange or store down"}})
def sync_now(svc: ServiceDep, body: SyncRequest | None = None) -> SyncStatusView:
    targets = None
    if body is not None and (body.pairs or body.timeframes):
        cfg, ex = svc.syncer.config, svc.data.exchange_id
        targets = sorted({SeriesKey(ex, p, tf) for p in body.pairs or cfg.pairs
                          for tf in body.timeframes or cfg.timeframes})
        svc.gateway.check_pairs([k.pair for k in targets])
    outcomes = svc.syncer.tick(targets)
    if outcomes and all(o.error for o in outcomes):
        raise HTTPException(503, {"error": "sync_failed",
                                  "reasons": sorted({o.error or "" for o in outcomes})})
    return _status(svc)


def _status(svc: ServiceDep) -> SyncStatusView:
    cfg, st = svc.syncer.config, svc.syncer.status
    return SyncStatusView(
        enabled=svc.service.sync_enabled, interval_seconds=cfg.interval_s, pairs=list(cfg.pairs),
        timeframes=list(cfg.timeframes), include_stored=cfg.include_stored, ticks=st.ticks,
        last_tick=from_ms(st.last_tick_ms), errors=st.errors,
        last_outcomes=[sync_outcome_view(o) for o in st.last_outcomes])
