"""A backtest that could not be started keeps its ticket: the drill's path end to end.

StartExecution fails for the backtest consumer's role (the FIS harness template
``consumer-start-execution-errors``, held for longer than the job's five attempts), so the
consumer marks the job FAILED ("could not be started after 5 attempts") and SQS moves the
message to the dead-letter queue. With the fault stopped, ``tradai dlq replay`` moves it back
(an SQS message move task); the consumer starts the job after all, it runs once and ends
COMPLETED, and its owner sees start-failed, replayed, running, completed in its history.

References: StartMessageMoveTask (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/
APIReference/API_StartMessageMoveTask.html): without DestinationArn the messages "will be
redriven back to their respective original source queues"; redriven messages are new messages
("Learn how to configure a dead-letter queue redrive", SQS developer guide).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration import fis_helpers
from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.stack_clock import stack_clock
from tests.integration.test_backtests_e2e import (
    SMALL,
    executions,
    status_of,
    submit,
    wait_terminal,
)
from tests.integration.test_edge_gateway import Edge
from tradai.topology import default_topology

pytestmark = pytest.mark.integration
FAULT = "consumer-start-execution-errors"
# the spec's maxReceiveCount (AWS's minimum for a queue feeding Lambda)
ATTEMPTS = next(q.max_receive_count for q in default_topology().queues
                if q.name == "backtest-queue.fifo")
ATTEMPTS_TIMEOUT = 240  # wall s: five receives, four visibility timeouts (9 s) apart, the DLQ


@pytest.fixture(scope="module")
def edge(cloud: RunningCloud) -> Edge:
    """The gateway once the backend is healthy and the example strategies are seeded."""
    if "strategy" in cloud.status()["resources"]["not_implemented"]["task_definitions"]:
        pytest.skip("the strategy container (tradai.strategy_container) is not in this build")
    e = Edge(cloud)
    wait_for(lambda: e.healthy("backend-api"), timeout=60)
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    return e


@pytest.fixture(scope="module")
def token(edge: Edge) -> str:
    return edge.user()["access"]


def tradai(cloud: RunningCloud, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``tradai`` CLI as an operator runs it against this deployment."""
    clock, _ = stack_clock(cloud)
    env = {**os.environ, "AWS_ENDPOINT_URL": cloud.endpoint, "AWS_DEFAULT_REGION": cloud.region,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "TRADAI_ENV": cloud.env, **clock.env()}
    exe = Path(sys.executable).with_name("tradai")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=300)


def depth(cloud: RunningCloud, url: str) -> int:
    attrs = cloud.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"])


def mlflow_runs(cloud: RunningCloud, job_id: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    status = cloud.status()
    url = status["resources"]["endpoints"].get("mlflow") or status["parts"]["seed"]["mlflow_url"]
    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name(f"backtests-{SMALL['strategy']}")
    assert experiment is not None
    return list(client.search_runs([experiment.experiment_id],
                                   filter_string=f"tags.job_id = '{job_id}'"))


def test_a_backtest_that_could_not_start_is_replayed_from_the_dlq_and_completes(
        edge: Edge, token: str, cloud: RunningCloud) -> None:
    urls = cloud.status()["resources"]["queues"]["urls"]
    dlq, queue = urls["backtest-dlq.fifo"], urls["backtest-queue.fifo"]
    assert depth(cloud, dlq) == 0, "the backtest DLQ holds messages another test left"

    body = fis_helpers.shipped(cloud, FAULT)
    body["actions"]["FailStartExecution"]["parameters"]["duration"] = "PT2H"  # until stopped
    experiment = fis_helpers.start(cloud, body)
    try:
        fis_helpers.wait_until(cloud, experiment, "running", action="FailStartExecution")
        job_id = submit(edge, token, SMALL)
        failed = wait_for(lambda: (s := status_of(edge, token, job_id))["status"] == "FAILED"
                          and s, timeout=ATTEMPTS_TIMEOUT, interval=1)
        assert failed["error"].startswith(
            f"could not be started after {ATTEMPTS} attempts"), failed
        wait_for(lambda: depth(cloud, dlq) == 1, timeout=120, interval=0.5)
    finally:
        cloud.client("fis").stop_experiment(id=experiment)
    fis_helpers.wait_until(cloud, experiment, "stopped")
    assert executions(cloud, job_id) == []  # it never ran

    listed = wait_for(lambda: (r := _backtest_dlq(tradai(cloud, "--json", "dlq", "list")))
                      and r["oldest_age_seconds"] is not None and r, timeout=30, interval=1)
    assert (listed["waiting"], listed["sources"]) == (1, ["backtest-queue.fifo"])

    replay = tradai(cloud, "dlq", "replay", "backtest-dlq.fifo", "--wait")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "COMPLETED 1 of 1 moved" in replay.stdout, replay.stdout

    # the job is FAILED until the consumer takes the replayed message: wait for the replay
    wait_for(lambda: any(e["event"] == "replayed" for e in status_of(edge, token, job_id)
                         .get("events") or []), timeout=120, interval=1)
    final = wait_terminal(edge, token, job_id)
    assert final["status"] == "COMPLETED", final.get("error")
    assert [e["name"] for e in executions(cloud, job_id)] == [job_id]  # exactly one
    events = final["events"]
    assert [e["event"] for e in events][-4:] == ["start-failed", "replayed", "running",
                                                 "completed"], events
    assert events[-4]["detail"].startswith(f"could not be started after {ATTEMPTS} attempts")
    assert events[-3]["detail"] == "from the dead-letter queue"
    assert len(mlflow_runs(cloud, job_id)) == 1
    assert depth(cloud, dlq) == 0 and depth(cloud, queue) == 0

    shown = subprocess.run(
        [str(Path(sys.executable).with_name("tradai")), "--api", edge.gateway, "--token",
         token, "backtest", "status", job_id], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert all(kind in shown.stdout for kind in ("start-failed", "replayed", "completed"))


def _backtest_dlq(result: subprocess.CompletedProcess[str]) -> dict[str, Any] | None:
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["dead_letter_queues"]
    return next(r for r in rows if r["queue"] == "backtest-dlq.fifo")
