# ruff: noqa: F811  (pytest fixtures imported from test_backend_fixtures)
"""Cancelling backtests: ``DELETE /api/v1/backtests/{job_id}`` and ``?status=QUEUED`` in
process (moto's DynamoDB and Step Functions, ECS as a fake that records StopTask), each state
and refusal; and the races of cancel against the consumer starting the job and the workflow
moving it, each with a fake interleaving."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.unit.test_backend_fixtures import (  # noqa: F401 (fixtures)
    REGION,
    TABLE,
    Api,
    api,
    aws,
    registry,
)
from tests.unit.test_workflow_orchestration import Env, _message, env  # noqa: F401
from tradai.backtests.cancel import Canceller, CancelRefused
from tradai.backtests.service import Owner
from tradai.backtests.store import TicketStore
from tradai.clock import Clock
from tradai.services.backend_api.dependencies import get_canceller
from tradai.workflows import updates
from tradai.workflows.status import JobStatusStore

GOOD = {"strategy": "SmaCross", "alias": "champion", "pairs": ["BTC/USDT"], "timeframe": "5m",
        "timerange": "20240101-20240301"}


class FakeCleaner:
    """TaskCleaner's one call the canceller makes: which job's tasks it stopped, and why."""

    def __init__(self) -> None:
        self.stopped: list[tuple[str, str | None]] = []

    def stop_job_tasks(self, job_id: str, error: Any = None, reason: str | None = None
                       ) -> list[str]:
        self.stopped.append((job_id, reason))
        return [f"task-of-{job_id}"]


class Wired:
    def __init__(self, api: Api, sfn: Any, machine: str, cleaner: FakeCleaner) -> None:
        self.api, self.sfn, self.machine, self.cleaner = api, sfn, machine, cleaner

    def submit(self, body: dict[str, Any] | None = None) -> str:
        resp = self.api.client.post("/api/v1/backtests", json=body or GOOD)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["job_id"])

    def start(self, job_id: str) -> str:
        """What the consumer does: RUNNING with the execution's ARN, then the execution."""
        arn = self.sfn.start_execution(stateMachineArn=self.machine, name=job_id,
                                       input="{}")["executionArn"]
        store = JobStatusStore(boto3.client("dynamodb", region_name=REGION), TABLE, Clock())
        assert store.register(job_id, {"owner": "alice"}, arn).applied
        return str(arn)

    def set_status(self, job_id: str, status: str) -> None:
        boto3.client("dynamodb", region_name=REGION).update_item(
            TableName=TABLE, Key={"job_id": {"S": job_id}}, UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}})

    def cancel(self, job_id: str) -> Any:
        return self.api.client.delete(f"/api/v1/backtests/{job_id}")


def _machine(sfn: Any) -> str:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return str(sfn.create_state_machine(
        name="tradai-test-backtest-workflow", roleArn=role, definition=json.dumps(
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"])


@pytest.fixture
def wired(api: Api, aws: Any) -> Wired:
    """The app's canceller on moto's table and Step Functions (moto leaves an execution
    RUNNING until it is stopped) and the fake ECS cleaner."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    cleaner = FakeCleaner()
    tickets = TicketStore(aws[0], TABLE)
    api.app.dependency_overrides[get_canceller] = lambda: Canceller(
        tickets, JobStatusStore(aws[0], TABLE, Clock()), sfn, cleaner)
    return Wired(api, sfn, _machine(sfn), cleaner)


def test_queued_job_is_cancelled_at_once(wired: Wired) -> None:
    job = wired.submit()
    resp = wired.cancel(job)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "CANCELLED" and body["cancelled_by"] == "alice"
    assert body["cancelled_at"] and body["error"] is None
    assert [e["event"] for e in body["events"]] == ["cancelled"]
    assert body["events"][0]["detail"] == "by alice"
    assert wired.api.client.get(f"/api/v1/backtests/{job}").json() == body  # as GET shows it
    assert wired.cleaner.stopped == [(job, f"backtest {job} cancelled by alice")]
    listed = wired.api.client.get("/api/v1/backtests").json()["backtests"]
    assert [(b["job_id"], b["status"]) for b in listed] == [(job, "CANCELLED")]


def test_running_job_has_its_execution_and_task_stopped(wired: Wired) -> None:
    job = wired.submit()
    arn = wired.start(job)
    resp = wired.cancel(job)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "CANCELLED"
    assert wired.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert wired.cleaner.stopped == [(job, f"backtest {job} cancelled by alice")]


def test_unknown_job_is_404(wired: Wired) -> None:
    resp = wired.cancel("no-such-job")
    assert resp.status_code == 404 and resp.json()["detail"] == "no backtest no-such-job"


def test_someone_elses_job_is_403_and_untouched(wired: Wired) -> None:
    job = wired.submit()
    wired.api.as_owner("bob")
    resp = wired.cancel(job)
    assert resp.status_code == 403
    assert "belongs to another user" in resp.json()["detail"]
    assert "only its owner may cancel it" in resp.json()["detail"]
    wired.api.as_owner("alice")
    assert wired.api.client.get(f"/api/v1/backtests/{job}").json()["status"] == "QUEUED"
    assert wired.cleaner.stopped == []


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "CANCELLED"])
def test_finished_job_is_409_naming_its_status(wired: Wired, status: str) -> None:
    job = wired.submit()
    wired.set_status(job, status)
    resp = wired.cancel(job)
    assert resp.status_code == 409
    assert resp.json()["detail"] == (f"backtest {job} is already {status}; only a QUEUED or "
                                     f"RUNNING backtest can be cancelled")
    assert wired.api.client.get(f"/api/v1/backtests/{job}").json()["status"] == status
    assert wired.cleaner.stopped == []


def test_cancelling_needs_the_submit_role(wired: Wired) -> None:
    job = wired.submit()
    wired.api.as_owner("alice", ("viewer",))
    resp = wired.cancel(job)
    assert resp.status_code == 403
    assert resp.json()["detail"] == ("cancelling a backtest needs the role researcher or "
                                     "operator; you have viewer")


def test_bulk_cancels_only_the_callers_queued_jobs(wired: Wired) -> None:
    queued = [wired.submit({**GOOD, "timerange": f"2024010{i}-20240301"}) for i in range(1, 4)]
    running = wired.submit({**GOOD, "timerange": "20240105-20240301"})
    wired.start(running)
    wired.api.as_owner("bob")
    bobs = wired.submit()
    wired.api.as_owner("alice")
    resp = wired.api.client.delete("/api/v1/backtests", params={"status": "QUEUED"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["cancelled"] == 3 and sorted(resp.json()["job_ids"]) == sorted(queued)
    for job in queued:
        assert wired.api.client.get(f"/api/v1/backtests/{job}").json()["status"] == "CANCELLED"
    assert wired.api.client.get(f"/api/v1/backtests/{running}").json()["status"] == "RUNNING"
    wired.api.as_owner("bob")
    assert wired.api.client.get(f"/api/v1/backtests/{bobs}").json()["status"] == "QUEUED"
    again = wired.api.client.delete("/api/v1/backtests", params={"status": "QUEUED"})
    assert again.json() == {"cancelled": 1, "job_ids": [bobs]}


@pytest.mark.parametrize("params", [{"status": "RUNNING"}, {"status": "queued"}, {}])
def test_bulk_other_status_is_422_with_reason(wired: Wired, params: dict[str, str]) -> None:
    job = wired.submit()
    resp = wired.api.client.delete("/api/v1/backtests", params=params)
    assert resp.status_code == 422
    [detail] = resp.json()["detail"]
    assert detail["loc"] == ["query", "status"]
    assert "only status=QUEUED can be cancelled in bulk" in detail["msg"]
    assert wired.api.client.get(f"/api/v1/backtests/{job}").json()["status"] == "QUEUED"


def test_owner_job_ids_reads_every_page(aws: Any) -> None:
    """The owner index is read to its end: a query that pages (1 item a page here) still
    finds every queued job."""
    ddb = aws[0]
    for i in range(5):
        ddb.put_item(TableName=TABLE, Item={
            "job_id": {"S": f"j{i}"}, "owner": {"S": "alice"},
            "created_at": {"S": f"2026-01-0{i + 1}"},
            "status": {"S": "QUEUED" if i != 2 else "RUNNING"}})

    class Paging:
        def query(self, **kwargs: Any) -> Any:
            return ddb.query(**kwargs, Limit=1)
    ids = TicketStore(Paging(), TABLE).owner_job_ids("alice", "QUEUED")
    assert sorted(ids) == ["j0", "j1", "j3", "j4"]


# -- races: cancel against the consumer and the workflow, with a fake interleaving -------------
def _queued(env: Env, job_id: str) -> None:
    env.store.ddb.put_item(TableName="wf-state", Item={
        "job_id": {"S": job_id}, "owner": {"S": "alice"}, "status": {"S": "QUEUED"},
        "created_at": {"S": "2026-01-01T00:00:00+00:00"}})


def _canceller(env: Env, cleaner: FakeCleaner | None = None) -> Canceller:
    return Canceller(TicketStore(env.store.ddb, "wf-state"), env.store, env.sfn,
                     cleaner or FakeCleaner())  # type: ignore[arg-type]


def _executions(env: Env) -> dict[str, str]:
    return {e["name"]: e["status"]
            for e in env.sfn.list_executions(stateMachineArn=env.machine)["executions"]}


def _before(obj: Any, name: str, first: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
            ) -> None:
    """``obj.name`` runs ``first`` once before doing what it does."""
    real = getattr(obj, name)
    done: list[bool] = []

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            first()
        return real(*args, **kwargs)
    monkeypatch.setattr(obj, name, wrapped)


ALICE = Owner("alice", "alice")


def test_race_cancel_between_the_consumers_read_and_register(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The consumer read QUEUED; the cancel lands before its register: nothing starts."""
    _queued(env, "job-1")
    _before(env.store, "register", lambda: _canceller(env).cancel("job-1", ALICE), monkeypatch)
    out = env.starter().start(_message("job-1"))
    assert out["outcome"] == "already-finished"
    assert _executions(env) == {}
    assert env.store.get("job-1")["status"] == "CANCELLED"


def test_race_cancel_between_register_and_start_execution(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cancel finds RUNNING with an ARN whose execution does not exist yet (StopExecution:
    ExecutionDoesNotExist); the start path reads CANCELLED after starting and stops it."""
    _queued(env, "job-2")
    seen: dict[str, Any] = {}

    def cancel() -> None:
        seen["before"] = env.store.get("job-2")
        seen["answer"] = _canceller(env).cancel("job-2", ALICE)
    _before(env.sfn, "start_execution", cancel, monkeypatch)
    out = env.starter().start(_message("job-2"))
    assert seen["before"]["status"] == "RUNNING" and seen["before"]["execution_arn"]
    assert seen["answer"].status == "CANCELLED"
    assert out["outcome"] == "cancelled"
    assert _executions(env) == {"job-2": "ABORTED"}
    assert env.store.get("job-2")["status"] == "CANCELLED"


def test_race_without_the_recheck_the_execution_would_run(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: without the start path's second read the same interleaving
    leaves a CANCELLED ticket with a RUNNING execution."""
    from tradai.workflows.orchestration import StartResult, WorkflowStarter
    _queued(env, "job-3")
    monkeypatch.setattr(WorkflowStarter, "_unless_cancelled",
                        lambda self, job, arn, outcome: StartResult(job, outcome, arn).as_dict())
    _before(env.sfn, "start_execution", lambda: _canceller(env).cancel("job-3", ALICE),
            monkeypatch)
    env.starter().start(_message("job-3"))
    assert _executions(env) == {"job-3": "RUNNING"}
    assert env.store.get("job-3")["status"] == "CANCELLED"


def test_race_cancel_after_start_stops_the_execution_and_the_workflow_cannot_move_it(
        env: Env) -> None:
    _queued(env, "job-4")
    cleaner = FakeCleaner()
    assert env.starter().start(_message("job-4"))["outcome"] == "started"
    _canceller(env, cleaner).cancel("job-4", ALICE)
    assert _executions(env) == {"job-4": "ABORTED"} and cleaner.stopped[0][0] == "job-4"
    # The workflow's own updates (a step already under way) never move it back.
    with pytest.raises(updates.JobAlreadyFinished):
        updates.apply(env.store, {"job_id": "job-4", "status": "RUNNING", "progress": 50})
    assert not env.store.completed("job-4").applied
    assert not env.store.failed("job-4", "boom").applied
    assert not env.store.start_failed("job-4", "could not be started").applied
    assert env.store.get("job-4")["status"] == "CANCELLED"


def test_race_workflow_completes_first_then_cancel_is_refused(env: Env) -> None:
    _queued(env, "job-5")
    env.starter().start(_message("job-5"))
    racer = _canceller(env)
    # The canceller read RUNNING; the workflow completes before its conditional write.
    real_get = racer.tickets.get
    racer.tickets.get = lambda job_id: (real_get(job_id), env.store.completed(job_id))[0]  # type: ignore[method-assign]
    with pytest.raises(CancelRefused) as refused:
        racer.cancel("job-5", ALICE)
    assert refused.value.status == 409 and "already COMPLETED" in refused.value.reason
    assert _executions(env) == {"job-5": "RUNNING"}  # not stopped: it is not cancelled


def test_cancelled_job_message_is_acknowledged_and_never_reopened(env: Env) -> None:
    """The consumer acknowledges a cancelled job's message without starting it, including a
    message replayed from the dead-letter queue."""
    _queued(env, "job-6")
    _canceller(env).cancel("job-6", ALICE)
    starter = env.starter()
    assert starter.start(_message("job-6"))["outcome"] == "cancelled"
    assert starter.start(_message("job-6"), replay_detail="from the dead-letter queue"
                         )["outcome"] == "cancelled"
    assert not env.store.reopen("job-6").applied
    assert _executions(env) == {}
    assert env.store.get("job-6")["status"] == "CANCELLED"
