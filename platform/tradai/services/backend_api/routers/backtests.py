"""``/api/v1/backtests``: submit (pattern 2, answered once queued), poll (pattern 3), cancel
(``tradai.backtests.cancel``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, status

from tradai.authz import BACKTEST_SUBMIT
from tradai.backtests.cancel import CancelRefused
from tradai.backtests.errors import InvalidSubmission
from tradai.backtests.models import (
    BacktestList,
    BacktestRequest,
    BacktestStatus,
    BacktestTicket,
    CancelledBacktests,
    JobStatus,
)
from tradai.backtests.service import Owner, owner_tickets, ticket_status
from tradai.services.backend_api.dependencies import (
    BacktestsDep,
    CancellerDep,
    OwnerDep,
    StoreDep,
    allowed,
)

router = APIRouter(prefix="/api/v1/backtests", tags=["backtests"])
SubmitterDep = Annotated[Owner, Depends(allowed(BACKTEST_SUBMIT, "submitting a backtest"))]
# Cancelling needs what submitting needs (and the job must be the caller's own).
CancellerRoleDep = Annotated[Owner, Depends(allowed(BACKTEST_SUBMIT, "cancelling a backtest"))]
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-]+$")]


@router.post("", response_model=BacktestTicket, status_code=status.HTTP_202_ACCEPTED,
             summary="Queue a backtest",
             responses={403: {"description": "Role needed (researcher)"},
                        422: {"description": "Invalid request: the field and the reason"},
                        503: {"description": "Registry, table or queue unavailable"}})
def submit(body: BacktestRequest, owner: SubmitterDep, backtests: BacktestsDep,
           idempotency_key: Annotated[str | None, Header(
               alias="Idempotency-Key", description="Retries with the same key get the "
                                                    "same ticket")] = None,
           ) -> BacktestTicket:
    return backtests.submit(body, owner, idempotency_key)


@router.get("", response_model=BacktestList, summary="The caller's backtests, newest first")
def list_backtests(owner: OwnerDep, store: StoreDep,
                   limit: Annotated[int, Query(ge=1, le=100)] = 20,
                   cursor: Annotated[str | None, Query(max_length=2048)] = None,
                   ) -> BacktestList:
    items, next_cursor = owner_tickets(store, owner, limit, cursor)
    return BacktestList(backtests=items, next_cursor=next_cursor)


@router.get("/{job_id}", response_model=BacktestStatus, summary="Status of one backtest",
            responses={404: {"description": "No such backtest for this caller"}})
def get_backtest(job_id: JobId, owner: OwnerDep, store: StoreDep) -> BacktestStatus:
    found = ticket_status(store, job_id, owner)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no backtest {job_id}")
    return found


@router.delete("", response_model=CancelledBacktests,
               summary="Cancel all the caller's queued backtests (?status=QUEUED)",
               responses={403: {"description": "Role needed (researcher)"},
                          422: {"description": "status is not QUEUED"}})
def cancel_queued(owner: CancellerRoleDep, canceller: CancellerDep,
                  status_: Annotated[str | None, Query(
                      alias="status", max_length=32,
                      description="Must be QUEUED: running jobs are cancelled one by one")
                  ] = None) -> CancelledBacktests:
    if status_ != JobStatus.QUEUED:
        raise InvalidSubmission("status", f"only status=QUEUED can be cancelled in bulk, got "
                                          f"{status_!r}; cancel a running backtest by its id "
                                          f"(DELETE /api/v1/backtests/{{job_id}})",
                                location="query")
    job_ids = canceller.cancel_queued(owner)
    return CancelledBacktests(cancelled=len(job_ids), job_ids=job_ids)


@router.delete("/{job_id}", response_model=BacktestStatus, summary="Cancel one backtest",
               responses={403: {"description": "Role needed (researcher), or not the owner"},
                          404: {"description": "No such backtest"},
                          409: {"description": "Already COMPLETED, FAILED or CANCELLED"}})
def cancel_backtest(job_id: JobId, owner: CancellerRoleDep, canceller: CancellerDep
                    ) -> BacktestStatus:
    try:
        return canceller.cancel(job_id, owner)
    except CancelRefused as exc:
        raise HTTPException(exc.status, exc.reason) from None
