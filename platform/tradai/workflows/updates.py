"""update-status: apply one status step of the workflow to the job item.

RUNNING carries progress (percent) and the instants the workflow's earlier steps reported
(``stages``: validated, data_ready; see ``tradai.backtests.stages``); COMPLETED keeps what the
container wrote (``result``, ``mlflow_url``); FAILED carries a readable reason built from the
Step Functions error and the container's own ``error``. A job that is already terminal is not
moved: for COMPLETED and FAILED that is a harmless no-op, for RUNNING it means the job must not
go on (``JobAlreadyFinished`` sends the workflow down its failure path, which changes nothing).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests import stages
from tradai.backtests.models import JobStatus
from tradai.workflows import failure
from tradai.workflows.slots import SlotLease
from tradai.workflows.status import JobStatusStore, Transition

_TRANSIENT = {"ProvisionedThroughputExceededException", "ThrottlingException",
              "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable"}


class StatusStoreUnavailable(RuntimeError):
    """The workflow-state table did not answer (retried by the workflow)."""


class JobAlreadyFinished(RuntimeError):
    """The job is COMPLETED or FAILED already; it must not run (again)."""


class InvalidStatusUpdate(ValueError):
    pass


def apply(store: JobStatusStore, event: dict[str, Any]) -> dict[str, Any]:
    job_id = event.get("job_id")
    status = event.get("status")
    if not isinstance(job_id, str) or not job_id:
        raise InvalidStatusUpdate("job_id is required")
    try:
        done = _apply(store, job_id, status, event)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _TRANSIENT:
            raise StatusStoreUnavailable(str(exc)) from exc
        raise
    except BotoCoreError as exc:
        raise StatusStoreUnavailable(str(exc)) from exc
    if status == JobStatus.RUNNING and not done.applied:
        raise JobAlreadyFinished(f"job {job_id} is already {done.status}")
    return {"job_id": job_id, "status": done.status, "applied": done.applied}


def release_slot(slots: SlotLease, job_id: str) -> list[int]:
    """Free the job's backtest slot once its status is final; a DynamoDB error is retried by
    the workflow like the status write (if retries run out, the execution ends and a reclaim
    frees the slot)."""
    try:
        return slots.release(job_id)
    except (ClientError, BotoCoreError) as exc:
        raise StatusStoreUnavailable(f"backtest slots: {exc}") from exc


def _apply(store: JobStatusStore, job_id: str, status: Any, event: dict[str, Any]
           ) -> Transition:
    if status == JobStatus.RUNNING:
        return store.running(job_id, float(event.get("progress") or 0),
                             stages.reported(event, ("validated", "data_ready")))
    if status == JobStatus.COMPLETED:
        return store.completed(job_id)
    if status == JobStatus.FAILED:
        stage = event.get("failed_stage")
        # The container writes its own error into the item before exiting non-zero.
        item = (store.get(job_id) or {}) if stage == "backtest" else {}
        said = item.get("error") if isinstance(item.get("error"), str) else None
        return store.failed(job_id, failure.reason(event.get("error"), stage, said))
    raise InvalidStatusUpdate(f"status must be RUNNING, COMPLETED or FAILED, got {status!r}")
