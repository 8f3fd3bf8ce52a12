"""Cancelling backtests end to end, as a user through the gateway, on a real stack: a queued
job never gets an execution; a running one has its Step Functions execution ABORTED and its
strategy task STOPPED; the ticket ends CANCELLED with who and when; a finished job answers
409 naming its status and someone else's job 403.

The queued job really waits: the consumer's limit is lowered to one backtest slot, and one
owner submits two jobs, so the second stays QUEUED (deferred at capacity, and FIFO keeps the
owner's group behind it) while the first runs. The first is a hyperopt with many epochs, so
it is still running when it is cancelled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.test_edge_gateway import Edge

pytestmark = pytest.mark.integration
SMALL = {"strategy": "EmaCrossover", "alias": "champion", "pairs": ["BTC/USDT"],
         "timeframe": "5m", "timerange": "20240110-20240117"}
LONG = {**SMALL, "mode": "hyperopt", "epochs": 1000}  # runs for minutes unless stopped
START_TIMEOUT = 300  # wall seconds for the first job's task to be running (loaded machine)


@pytest.fixture(scope="module")
def edge(cloud: RunningCloud) -> Edge:
    e = Edge(cloud)
    wait_for(lambda: e.healthy("backend-api"), timeout=60)
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    return e


@pytest.fixture
def one_slot(cloud: RunningCloud) -> Iterator[int]:
    """The consumer's limit lowered to one backtest slot (restored afterwards)."""
    lam = cloud.client("lambda")
    name = cloud.name("backtest-consumer")
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {
        **env, "TRADAI_BACKTEST_MAX_CONCURRENT": "1"}})
    try:
        yield 1
    finally:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})


def submit(edge: Edge, token: str, body: dict[str, Any]) -> str:
    resp = edge.post("/api/v1/backtests", token, body, key=uuid.uuid4().hex)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["ticket_id"])


def status_of(edge: Edge, token: str, job_id: str) -> dict[str, Any]:
    resp = edge.get(f"/api/v1/backtests/{job_id}", token)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def job_tasks(cloud: RunningCloud, job_id: str) -> list[dict[str, Any]]:
    return [t for t in cloud.control("/ecs/tasks")["tasks"]
            if t["group"] == f"backtest:{job_id}"]


def executions(cloud: RunningCloud, name: str) -> list[dict[str, Any]]:
    machine = cloud.status()["resources"]["state_machines"]["backtest-workflow"]
    return [e for e in cloud.client("stepfunctions").list_executions(
        stateMachineArn=machine)["executions"] if e["name"] == name]


def queue_depth(cloud: RunningCloud) -> int:
    sqs = cloud.client("sqs")
    url = cloud.status()["resources"]["queues"]["urls"]["backtest-queue.fifo"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return sum(int(v) for v in attrs.values())


def delete(edge: Edge, token: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.delete(edge.gateway + path, headers={"Authorization": f"Bearer {token}"},
                        timeout=30, **kw)


def running_task(cloud: RunningCloud, job_id: str) -> dict[str, Any] | None:
    return next((t for t in job_tasks(cloud, job_id) if t["last_status"] == "RUNNING"), None)


@pytest.mark.timeout(900)
def test_cancel_queued_and_running_jobs_through_the_gateway(
        edge: Edge, cloud: RunningCloud, one_slot: int) -> None:
    token = edge.user()["access"]
    first = submit(edge, token, LONG)
    second = submit(edge, token, {**SMALL, "timerange": "20240112-20240119"})

    # The first runs (its strategy task is up); the second waits for the one slot.
    task = wait_for(lambda: running_task(cloud, first), timeout=START_TIMEOUT, interval=1)
    assert status_of(edge, token, second)["status"] == "QUEUED"

    # Cancel the queued one: CANCELLED at once, with who and when.
    queued = delete(edge, token, f"/api/v1/backtests/{second}")
    assert queued.status_code == 200, queued.text
    body = queued.json()
    assert body["status"] == "CANCELLED" and body["cancelled_by"] and body["cancelled_at"]
    assert [e["event"] for e in body["events"]] == ["cancelled"]
    assert status_of(edge, token, second) == body  # the answer is the ticket as GET shows it

    # Someone else may not cancel the running one.
    stranger = edge.user()["access"]
    foreign = delete(edge, stranger, f"/api/v1/backtests/{first}")
    assert foreign.status_code == 403, foreign.text
    assert "only its owner may cancel it" in foreign.json()["detail"]
    assert status_of(edge, token, first)["status"] == "RUNNING"

    # Cancel the running one: its execution is aborted and its task stopped.
    running = delete(edge, token, f"/api/v1/backtests/{first}")
    assert running.status_code == 200, running.text
    assert running.json()["status"] == "CANCELLED"
    assert len(executions(cloud, first)) == 1
    wait_for(lambda: executions(cloud, first)[0]["status"] == "ABORTED", timeout=60,
             interval=0.5)
    wait_for(lambda: all(t["last_status"] == "STOPPED" for t in job_tasks(cloud, first)),
             timeout=120, interval=0.5)
    assert task["task_arn"] in {t["task_arn"] for t in job_tasks(cloud, first)}

    # The queued job's message is acknowledged without a start (the slot freed by the
    # aborted execution lets the consumer reach it): the queue empties, no execution exists.
    wait_for(lambda: queue_depth(cloud) == 0, timeout=180, interval=0.5)
    assert executions(cloud, second) == []
    assert job_tasks(cloud, second) == []

    # Both stay CANCELLED (the workflow's own updates never move them back).
    final = status_of(edge, token, first)
    assert final["status"] == "CANCELLED" and final["cancelled_by"]
    assert "completed" not in [e["event"] for e in final["events"]]
    assert status_of(edge, token, second)["status"] == "CANCELLED"

    # A finished job answers 409 naming its status.
    again = delete(edge, token, f"/api/v1/backtests/{first}")
    assert again.status_code == 409
    assert f"backtest {first} is already CANCELLED" in again.json()["detail"]
    # Bulk: nothing of this owner is queued any more; a running-status bulk call is refused.
    assert delete(edge, token, "/api/v1/backtests", params={"status": "QUEUED"}).json() == {
        "cancelled": 0, "job_ids": []}
    refused = delete(edge, token, "/api/v1/backtests", params={"status": "RUNNING"})
    assert refused.status_code == 422
    assert "only status=QUEUED" in refused.json()["detail"][0]["msg"]
