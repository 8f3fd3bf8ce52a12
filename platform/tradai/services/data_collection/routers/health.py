"""``/health``: the ECS / ALB health check. Answers without touching S3 or the exchange, so a
slow dependency never gets a healthy task replaced; what it knows about them is in ``detail``."""

from __future__ import annotations

from fastapi import APIRouter

from tradai.services.data_collection.dependencies import ServiceDep
from tradai.services.data_collection.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness of the data collection task")
def health(svc: ServiceDep) -> Health:
    status = svc.syncer.status
    return Health(
        status="ok", exchange=svc.data.exchange_id, exchange_url=svc.data.exchange_url,
        store=svc.store.location, jobs_running=svc.jobs.running(),
        detail={"sync_ticks": status.ticks, "sync_errors": status.errors,
                "exchange_requests": svc.gateway.requests,
                "exchange_retries": svc.gateway.retries})
