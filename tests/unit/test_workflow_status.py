"""Job status store: conditional transitions, terminal states stay, TTL, failure reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.clock import Clock
from tradai.workflows import failure
from tradai.workflows.status import JobStatusStore
from tradai.workflows.updates import JobAlreadyFinished, apply

TABLE = "tradai-test-workflow-state"
LIVE_TTL = 4_000_000_000  # a ticket that has not expired (readers drop expired ones)


@pytest.fixture
def store() -> Iterator[JobStatusStore]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "job_id",
                                                "AttributeType": "S"}])
        yield JobStatusStore(ddb, TABLE, Clock(scale=1.0, origin=1_700_000_000), ttl_days=30)


def _queued(store: JobStatusStore, job_id: str = "j1", **extra: Any) -> None:
    store.ddb.put_item(TableName=TABLE, Item={
        "job_id": {"S": job_id}, "status": {"S": "QUEUED"}, "owner": {"S": "alice"},
        "ttl": {"N": str(LIVE_TTL)}, **extra})


def test_register_moves_queued_to_running_and_keeps_the_ttl(store: JobStatusStore) -> None:
    _queued(store)
    t = store.register("j1", {"strategy": "S", "owner": "bob"}, "arn:exec")
    item = store.get("j1")
    assert t.applied and t.previous == "QUEUED"
    assert item["status"] == "RUNNING" and item["execution_arn"] == "arn:exec"
    assert item["ttl"] == LIVE_TTL and item["owner"] == "alice"  # kept, not overwritten


def test_register_creates_a_ticket_that_arrived_without_one(store: JobStatusStore) -> None:
    store.register("j2", {"strategy": "S", "owner": "bob", "pairs": ["BTC/USDT"]}, "arn:x")
    item = store.get("j2")
    assert item["status"] == "RUNNING" and item["owner"] == "bob"
    assert item["job"]["pairs"] == ["BTC/USDT"] and item["ttl"] > 1_700_000_000


def test_terminal_jobs_never_move_back(store: JobStatusStore) -> None:
    _queued(store)
    assert store.completed("j1").applied
    assert not store.failed("j1", "late failure").applied
    assert not store.running("j1", 50).applied
    assert not store.register("j1", {}, "arn:again").applied
    item = store.get("j1")
    assert item["status"] == "COMPLETED" and item["progress"] == 100 and "error" not in item


def test_running_with_progress_then_failed_with_reason(store: JobStatusStore) -> None:
    _queued(store)
    apply(store, {"job_id": "j1", "status": "RUNNING", "progress": 20})
    assert store.get("j1")["progress"] == 20
    apply(store, {"job_id": "j1", "status": "FAILED", "failed_stage": "validation",
                  "error": {"Error": "InvalidStrategy", "Cause": json.dumps({
                      "errorType": "InvalidStrategy",
                      "errorMessage": "strategy 'S' has no version 9"})}})
    item = store.get("j1")
    assert item["status"] == "FAILED"
    assert item["error"] == "strategy validation failed: strategy 'S' has no version 9"
    with pytest.raises(JobAlreadyFinished):
        apply(store, {"job_id": "j1", "status": "RUNNING", "progress": 30})


def test_failed_backtest_quotes_the_container_error(store: JobStatusStore) -> None:
    _queued(store, error={"S": "strategy raised ZeroDivisionError in populate_indicators"})
    task = {"TaskArn": "arn:task/1", "Containers": [{"Name": "strategy", "ExitCode": 1}],
            "StopCode": "EssentialContainerExited"}
    apply(store, {"job_id": "j1", "status": "FAILED", "failed_stage": "backtest",
                  "error": {"Error": "States.TaskFailed", "Cause": json.dumps(task)}})
    assert store.get("j1")["error"] == ("backtest container exited with code 1: strategy "
                                        "raised ZeroDivisionError in populate_indicators")


@pytest.mark.parametrize(("error", "stage", "expected"), [
    ({"Error": "States.Timeout", "Cause": ""}, "backtest", "backtest failed: timed out"),
    ({"Error": "Sandbox.Timedout", "Cause": json.dumps({
        "errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 180.00 seconds"})},
     "data", "market data could not be prepared: Task timed out after 180.00 seconds"),
    ({"Error": "States.TaskFailed", "Cause": json.dumps({
        "TaskArn": "t", "Containers": [{"ExitCode": None}], "StoppedReason": "Task stopped"})},
     "backtest", "backtest task stopped before finishing (Task stopped)"),
    ({"Error": "Lambda.Unknown", "Cause": "boom"}, None,
     "the workflow failed: Lambda.Unknown: boom"),
])
def test_reasons(error: dict[str, Any], stage: str | None, expected: str) -> None:
    assert failure.reason(error, stage) == expected
