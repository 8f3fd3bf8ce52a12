"""``POST /api/v1/data/ensure`` and ``GET /api/v1/data/jobs/{id}``.

Contract (used by the ``data-collection-proxy`` Lambda of the backtest workflow): validate the
request at once (422 naming the field; 503 when the exchange cannot be asked which pairs
exist), then run the backfill as a job. With ``wait_seconds`` the call blocks up to that long:
200 + the finished job (``succeeded``; a ``failed`` job whose cause is the exchange answers 503
with the job in the body), or 202 + the running job to poll at ``/jobs/{id}``. A retried
request after a crash resumes from what is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from tradai.data.keys import SeriesKey
from tradai.data.validation import BadRequest, check_range
from tradai.services.data_collection.dependencies import ServiceDep
from tradai.services.data_collection.models import EnsureRequest, JobView, ms
from tradai.services.data_collection.views import job_view

router = APIRouter(prefix="/api/v1/data", tags=["data"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Bad request; `detail[].loc` names the field"},
    503: {"description": "The exchange (named in the body) or the store is unreachable"},
}


@router.post("/ensure", response_model=JobView, status_code=202,
             summary="Make sure a pair / timeframe / range is stored, backfilling what is missing",
             responses={200: {"model": JobView, "description": "Finished within wait_seconds"},
                        **_ERRORS})
def ensure(body: EnsureRequest, svc: ServiceDep) -> JSONResponse:
    exchange = body.exchange or svc.data.exchange_id
    if exchange != svc.data.exchange_id:
        raise BadRequest("exchange", f"this service collects {svc.data.exchange_id!r} only")
    if body.wait_seconds > svc.service.max_wait_s:
        raise BadRequest("wait_seconds", f"at most {svc.service.max_wait_s} seconds")
    rng = check_range(body.timeframe, ms(body.start), None if body.end is None else ms(body.end),
                      svc.now_ms(), svc.data.max_candles)
    svc.gateway.check_pairs(body.pairs)
    job = svc.jobs.submit([SeriesKey(exchange, p, body.timeframe) for p in body.pairs], rng)
    finished = job.finished.wait(body.wait_seconds) if body.wait_seconds else job.finished.is_set()
    view = job_view(job)
    status = 202
    if finished:
        unreachable = job.error and job.error["error"] in ("exchange_unavailable",
                                                           "store_unavailable")
        status = 503 if unreachable else 200
    return JSONResponse(view.model_dump(mode="json"), status_code=status)


@router.get("/jobs/{job_id}", response_model=JobView, summary="Progress of an ensure job",
            responses={404: {"description": "Unknown job (jobs live in the task's memory)"}})
def get_job(job_id: str, svc: ServiceDep) -> JobView:
    job = svc.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id} (jobs are kept in memory: re-post the "
                                 "ensure request, it resumes from what is stored)")
    return job_view(job)
