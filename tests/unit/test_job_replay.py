"""A replayed backtest keeps its ticket: the status rules of the replay transition and the
consumer's side of it.

A job that FAILED because it could not be started (and only such a job) moves back to QUEUED
when its message comes back, once, and then runs as any queued job; COMPLETED never moves; a
job that ran and FAILED never restarts. Every step is in the job's history (``events``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.backtests.service import to_status
from tradai.clock import Clock
from tradai.workflows.consumer import BacktestConsumer, QueueRecord, replay_detail
from tradai.workflows.orchestration import WorkflowStarter
from tradai.workflows.orphans import OrphanScanner
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.slots import SlotLease
from tradai.workflows.status import REPLAYED_FROM_DLQ, JobStatusStore
from tradai.workflows.updates import apply

REGION = "eu-central-1"
TABLE = "replay-state"
SLOTS = "replay-slots"


@dataclass
class Env:
    store: JobStatusStore
    sfn: Any
    machine: str

    def starter(self) -> WorkflowStarter:
        slots = SlotLease(self.store.ddb, SLOTS, 5, self.store.clock, self.sfn)
        return WorkflowStarter(self.sfn, self.store, self.machine, slots)

    def executions(self) -> list[str]:
        return [e["name"] for e in self.sfn.list_executions(
            stateMachineArn=self.machine)["executions"]]


@pytest.fixture
def env() -> Iterator[Env]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_spec_table(ddb, "workflow-state", TABLE)
        create_spec_table(ddb, "backtest-slots", SLOTS)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(
            name="replay-workflow", roleArn=role, definition=json.dumps(
                {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
        yield Env(JobStatusStore(ddb, TABLE, Clock(scale=1.0, origin=1_700_000_000)), sfn,
                  machine["stateMachineArn"])


def _queued(env: Env, job_id: str = "j1") -> None:
    env.store.ddb.put_item(TableName=TABLE, Item={
        "job_id": {"S": job_id}, "status": {"S": "QUEUED"}, "owner": {"S": "alice"},
        "strategy": {"S": "S"}, "created_at": {"S": "2026-12-01T00:00:00+00:00"}})


def _message(job_id: str = "j1") -> dict[str, Any]:
    return {"job_id": job_id, "owner": "alice", "strategy": "S", "version": 1,
            "pairs": ["BTC/USDT"], "timeframe": "5m"}


def _events(env: Env, job_id: str = "j1") -> list[str]:
    return [e["event"] for e in (env.store.get(job_id) or {}).get("events", [])]


# -- the store's rules ----------------------------------------------------------------------
def test_a_job_that_could_not_start_moves_back_to_queued_once(env: Env) -> None:
    _queued(env)
    assert env.store.start_failed("j1", "could not be started after 3 attempts: X").applied
    first = env.store.reopen("j1")
    second = env.store.reopen("j1")
    assert first.applied and first.previous == "FAILED"
    assert not second.applied and second.status == "QUEUED"
    item = env.store.get("j1")
    assert item["status"] == "QUEUED" and item["progress"] == 0
    assert "error" not in item and "start_failed" not in item and "finished_at" not in item
    assert _events(env) == ["start-failed", "replayed"]
    assert item["events"][1]["detail"] == REPLAYED_FROM_DLQ


def test_a_job_that_ran_and_failed_never_moves_back(env: Env) -> None:
    _queued(env)
    env.store.failed("j1", "backtest failed: strategy raised")
    assert not env.store.reopen("j1").applied
    assert not env.store.start_failed("j1", "late").applied  # terminal: no mark added
    assert not env.store.reopen("j1").applied
    assert env.store.get("j1")["status"] == "FAILED"
    assert _events(env) == ["failed"]


def test_a_completed_job_never_moves_back(env: Env) -> None:
    _queued(env)
    env.store.completed("j1")
    assert not env.store.start_failed("j1", "late").applied
    assert not env.store.reopen("j1").applied
    assert env.store.get("j1")["status"] == "COMPLETED"


def test_a_replayed_job_that_then_fails_while_running_stays_failed(env: Env) -> None:
    _queued(env)
    env.store.start_failed("j1", "could not be started")
    env.store.reopen("j1")
    apply(env.store, {"job_id": "j1", "status": "RUNNING", "progress": 20})
    apply(env.store, {"job_id": "j1", "status": "FAILED", "failed_stage": "backtest"})
    assert not env.store.reopen("j1").applied
    assert _events(env) == ["start-failed", "replayed", "running", "failed"]


def test_running_is_recorded_once_per_run_and_completion_after_it(env: Env) -> None:
    _queued(env)
    for progress in (20, 40, 80):
        apply(env.store, {"job_id": "j1", "status": "RUNNING", "progress": progress})
    apply(env.store, {"job_id": "j1", "status": "COMPLETED"})
    assert env.store.get("j1")["progress"] == 100
    assert _events(env) == ["running", "completed"]


def test_the_owner_sees_the_history_in_the_status_response(env: Env) -> None:
    _queued(env)
    env.store.start_failed("j1", "could not be started after 3 attempts: boom")
    env.store.reopen("j1")
    status = to_status(env.store.get("j1"))
    assert [(e.event, e.detail) for e in status.events] == [
        ("start-failed", "could not be started after 3 attempts: boom"),
        ("replayed", REPLAYED_FROM_DLQ)]
    assert status.status == "QUEUED" and status.error is None
    first, then = (datetime.fromisoformat(e.at) for e in status.events)
    assert first.tzinfo is not None and first <= then


# -- starting a replayed job ----------------------------------------------------------------
def test_a_replayed_message_starts_the_job_after_all_and_only_once(env: Env) -> None:
    _queued(env)
    env.store.register("j1", _message(), "arn:registered")  # the consumer's attempts
    env.store.start_failed("j1", "could not be started after 3 attempts: InternalFailure")
    starter = env.starter()
    assert starter.start(_message())["outcome"] == "started"
    assert starter.start(_message())["outcome"] == "already-started"  # a second delivery
    assert env.executions() == ["j1"]
    assert env.store.get("j1")["status"] == "RUNNING"
    assert _events(env) == ["start-failed", "replayed"]


def test_a_finished_job_is_not_started_by_its_message(env: Env) -> None:
    _queued(env, "ran")
    env.store.failed("ran", "backtest failed")
    _queued(env, "done")
    env.store.completed("done")
    for job_id in ("ran", "done"):
        assert env.starter().start(_message(job_id))["outcome"] == "already-finished"
    assert env.executions() == []


def test_a_start_failed_job_whose_execution_exists_is_not_reopened(env: Env) -> None:
    """The mark says it never started, but Step Functions has an execution of its name (a
    start whose answer was lost): it ran, so its outcome stands."""
    _queued(env)
    env.sfn.start_execution(stateMachineArn=env.machine, name="j1", input="{}")
    env.store.start_failed("j1", "could not be started: timeout")
    assert env.starter().start(_message())["outcome"] == "already-finished"
    assert env.store.get("j1")["status"] == "FAILED"


def test_the_consumer_marks_its_last_failed_attempt_as_never_started(env: Env) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="r-dlq.fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=[
        "QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="r.fifo", Attributes={
        "FifoQueue": "true", "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]

    def failing(message: dict[str, Any], **_: Any) -> dict[str, Any]:
        raise RuntimeError("InternalFailure")

    _queued(env)
    record = QueueRecord("m1", json.dumps(_message()), "rh", 3, "alice", "d", arn)
    with pytest.raises(RuntimeError):
        BacktestConsumer(sqs, env.store, failing, backoff_seconds=1).handle(record)
    item = env.store.get("j1")
    assert item["status"] == "FAILED" and item["start_failed"] is True
    assert env.store.reopen("j1").applied


def test_a_redriven_message_is_a_replay_a_later_receive_a_redelivery() -> None:
    def record(n: int) -> QueueRecord:
        return QueueRecord("m", "{}", "rh", n, None, None, "arn:aws:sqs:r:1:q")

    assert replay_detail(record(1)) == REPLAYED_FROM_DLQ
    assert replay_detail(record(2)) == "message delivered again (receive 2)"


class NoTasks:
    """The orphan scanner's task side, with no strategy task running."""

    def stop_job_tasks(self, job_id: str) -> list[str]:
        return []

    def running_tasks(self) -> list[dict[str, Any]]:
        return []


def test_the_orphan_scanner_marks_a_job_without_execution_as_never_started(env: Env) -> None:
    _queued(env)
    env.store.register("j1", _message(), f"{env.machine}:j1".replace(
        ":stateMachine:", ":execution:"))
    report = OrphanScanner(env.store, env.sfn, NoTasks()).scan()  # type: ignore[arg-type]
    assert report.failed_jobs == ["j1"]
    assert env.store.get("j1")["start_failed"] is True
    assert env.starter().start(_message())["outcome"] == "started"
    assert _events(env) == ["start-failed", "replayed"]


def test_the_orphan_scanner_leaves_a_job_whose_start_sqs_may_still_retry(env: Env) -> None:
    """Between two deliveries of its message (a failed StartExecution, the visibility timeout,
    the next receive) a job is RUNNING without an execution: that is not an orphan until the
    queue can deliver it no more (visibility timeout x maxReceiveCount), else a retry would
    look like a DLQ replay in the job's history."""
    class Later:
        def __init__(self, clock: Any, seconds: float) -> None:
            self.clock, self.seconds = clock, seconds

        def now(self) -> float:
            return float(self.clock.now()) + self.seconds

        def now_datetime(self) -> Any:
            return self.clock.now_datetime() + timedelta(seconds=self.seconds)

    _queued(env)
    env.store.register("j1", _message(), f"{env.machine}:j1".replace(
        ":stateMachine:", ":execution:"))
    window = WorkflowSettings().start_retry_window_seconds
    assert window == 180 * 5  # backtest-queue.fifo in the topology spec
    scanner = OrphanScanner(env.store, env.sfn, NoTasks(), start_grace_seconds=window)  # type: ignore[arg-type]
    assert scanner.scan().failed_jobs == []
    assert env.store.get("j1")["status"] == "RUNNING"
    real = env.store.clock
    env.store.clock = Later(real, window - 5)  # type: ignore[assignment]
    assert scanner.scan().failed_jobs == []
    env.store.clock = Later(real, window + 1)  # type: ignore[assignment]
    assert scanner.scan().failed_jobs == ["j1"]
    assert env.store.get("j1")["error"] == "its workflow execution no longer exists"


def test_the_openapi_document_shows_the_history_of_a_backtest() -> None:
    from tradai.services.backend_api.main import create_app

    schemas = create_app().openapi()["components"]["schemas"]
    events = schemas["BacktestStatus"]["properties"]["events"]
    assert events["items"]["$ref"] == "#/components/schemas/JobEvent"
    assert set(schemas["JobEvent"]["required"]) == {"at", "event"}
    assert schemas["JobEventKind"]["enum"] == ["start-failed", "replayed", "running",
                                               "completed", "failed", "cancelled"]
