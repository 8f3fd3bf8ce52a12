"""Job status in the workflow-state table, as the workflow moves it.

QUEUED (written by the backend) -> RUNNING (consumer, then the workflow with progress; the
strategy container adds progress, ``result`` and ``mlflow_url``) -> COMPLETED or FAILED.
Every write is conditional: a terminal job never moves again, so a late or repeated step
(a retried Lambda, a redelivered message, a cleanup after success) cannot undo an outcome.
``ttl`` is set once (if missing) so every item the workflow touches expires as the spec says.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tradai.backtests.models import JobStatus
from tradai.backtests.store import from_item, to_item
from tradai.clock import Clock

TERMINAL = (JobStatus.COMPLETED.value, JobStatus.FAILED.value)
_NOT_TERMINAL = "(#s <> :completed AND #s <> :failed)"
PROGRESS_REGISTERED = 5  # the consumer started the workflow
MAX_REASON = 1000


class JobMissing(LookupError):
    """No ticket with this job id (it expired, or the id is wrong)."""


@dataclass(frozen=True)
class Transition:
    job_id: str
    status: str
    applied: bool  # False: the job was already terminal and stays as it was
    previous: str | None = None


def _percent(value: float) -> Decimal:
    """DynamoDB takes numbers as Decimal; progress is a percentage."""
    return Decimal(str(round(min(max(float(value), 0.0), 100.0), 1)))


class JobStatusStore:
    def __init__(self, dynamodb: Any, table: str, clock: Clock, ttl_days: int = 30) -> None:
        self.ddb = dynamodb
        self.table = table
        self.clock = clock
        self.ttl_days = ttl_days

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key={"job_id": {"S": job_id}},
                                 ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    # -- transitions ------------------------------------------------------------------------
    def register(self, job_id: str, message: dict[str, Any], execution_arn: str) -> Transition:
        """The consumer: RUNNING with the execution's ARN. A ticket that arrived without a
        backend record (a direct queue integration) is created from the message."""
        now = self.clock.now()
        stamp = self.clock.now_datetime().isoformat()
        job = {k: message.get(k) for k in ("strategy", "version", "alias", "pairs", "timeframe",
                                           "timerange", "strategy_class", "config_s3_path",
                                           "mode", "epochs")}
        job = {k: v for k, v in job.items() if v is not None}
        sets = {"status": JobStatus.RUNNING.value, "execution_arn": execution_arn,
                "updated_at": stamp, "started_at": stamp}
        if_missing = {"progress": PROGRESS_REGISTERED, "ttl": int(now) + self.ttl_days * 86400,
                      "owner": message.get("owner") or "unknown", "kind": "backtest",
                      "created_at": message.get("submitted_at") or stamp,
                      "strategy": message.get("strategy") or "", "version": message.get("version"),
                      "job": job, "request": job}
        return self._update(job_id, sets, if_missing, must_exist=False)

    def running(self, job_id: str, progress: float) -> Transition:
        return self._update(job_id, {"status": JobStatus.RUNNING.value,
                                     "progress": _percent(progress),
                                     "updated_at": self.clock.now_datetime().isoformat()})

    def completed(self, job_id: str) -> Transition:
        stamp = self.clock.now_datetime().isoformat()
        return self._update(job_id, {"status": JobStatus.COMPLETED.value, "progress": 100,
                                     "updated_at": stamp, "finished_at": stamp})

    def failed(self, job_id: str, reason: str) -> Transition:
        stamp = self.clock.now_datetime().isoformat()
        return self._update(job_id, {"status": JobStatus.FAILED.value,
                                     "error": reason[:MAX_REASON] or "failed without a reason",
                                     "updated_at": stamp, "finished_at": stamp},
                            must_exist=False)

    def _update(self, job_id: str, sets: dict[str, Any], if_missing: dict[str, Any] | None = None,
                must_exist: bool = True) -> Transition:
        if_missing = {k: v for k, v in (if_missing or {}).items() if v is not None}
        if_missing.setdefault("ttl", int(self.clock.now()) + self.ttl_days * 86400)
        names = {"#s": "status"}
        values: dict[str, Any] = {":completed": "COMPLETED", ":failed": "FAILED"}
        clauses = []
        for i, (k, v) in enumerate(sets.items()):
            names[f"#a{i}"], values[f":a{i}"] = k, v
            clauses.append(f"#a{i} = :a{i}")
        for i, (k, v) in enumerate(if_missing.items()):
            names[f"#m{i}"], values[f":m{i}"] = k, v
            clauses.append(f"#m{i} = if_not_exists(#m{i}, :m{i})")
        exists = "attribute_exists(job_id) AND " if must_exist else ""
        condition = f"{exists}(attribute_not_exists(#s) OR {_NOT_TERMINAL})"
        try:
            resp = self.ddb.update_item(
                TableName=self.table, Key={"job_id": {"S": job_id}},
                UpdateExpression="SET " + ", ".join(clauses), ConditionExpression=condition,
                ExpressionAttributeNames=names, ExpressionAttributeValues=to_item(values),
                ReturnValues="UPDATED_OLD")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = self.get(job_id)
            if item is None:
                raise JobMissing(f"no job {job_id} in the workflow-state table") from None
            return Transition(job_id, str(item.get("status")), applied=False,
                              previous=str(item.get("status")))
        old = from_item(resp.get("Attributes") or {})
        return Transition(job_id, str(sets["status"]), applied=True,
                          previous=old.get("status"))
