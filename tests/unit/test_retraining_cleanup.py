"""A failed retraining run's cleanup (cleanup-resources, ``kind: retraining``): besides the
run's own tasks, the comparison backtests it submitted are cancelled as their owner (the
workflow) would cancel them -- a running one's ticket CANCELLED with who, its execution
stopped; a finished one left as it is; a run that submitted none cancels nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.unit.test_retraining import NOW, RUNS, LambdaContext, aws  # noqa: F401 (fixture)
from tradai.backtests.store import TicketStore, from_item
from tradai.retraining.runs import RUNNING, RunStore, iso, run_id_for

REGION = "eu-central-1"
TICKETS = "tradai-test-workflow-state"
CLUSTER = "tradai-test-strategies"


@pytest.fixture
def stack(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch  # noqa: F811 (the fixture)
          ) -> dict[str, Any]:
    """The retraining tests' tables (``aws``), plus the cluster and a backtest state machine
    whose executions wait an hour (running when cancelled)."""
    monkeypatch.setenv("TRADAI_ENV", "test")
    monkeypatch.setenv("TRADAI_TABLE_RETRAINING_STATE", RUNS)
    monkeypatch.setenv("TRADAI_TABLE_WORKFLOW_STATE", TICKETS)
    boto3.client("ecs", region_name=REGION).create_cluster(clusterName=CLUSTER)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="tradai-test-backtest-workflow", roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": 3600, "End": True}}}))["stateMachineArn"]
    return {**aws, "sfn": sfn, "machine": machine}


def _ticket(env: dict[str, Any], job_id: str, status: str, execution: str | None = None
            ) -> None:
    record = {"job_id": job_id, "owner": "retraining-workflow", "status": status,
              "strategy": "S", "created_at": iso(NOW), "kind": "backtest"}
    if execution:
        record["execution_arn"] = execution
    assert TicketStore(env["ddb"], TICKETS).create(record)


def _run(env: dict[str, Any], **jobs: str) -> dict[str, str]:
    runs = RunStore(env["ddb"], RUNS)
    run = {"model_name": "S", "requested_at": iso(NOW), "run_id": run_id_for("S", iso(NOW)),
           "state": RUNNING, "trigger": "operator", "champion_version": 1, **jobs}
    assert runs.create(run, NOW)
    return {"model_name": "S", "requested_at": iso(NOW), "run_id": str(run["run_id"])}


def _cleanup(keys: dict[str, str]) -> dict[str, Any]:
    from tradai.lambdas import cleanup_resources

    return dict(cleanup_resources.handler(
        {"job_id": keys["run_id"], **keys, "kind": "retraining",
         "error": {"Error": "ComparisonFailed", "Cause": "{}"}}, LambdaContext()))


def test_a_failed_run_cancels_its_running_comparison_backtest_and_leaves_a_finished_one(
        stack: dict[str, Any]) -> None:
    execution = stack["sfn"].start_execution(stateMachineArn=stack["machine"],
                                             name="job-champion")["executionArn"]
    _ticket(stack, "job-champion", "RUNNING", execution)
    _ticket(stack, "job-challenger", "COMPLETED")
    keys = _run(stack, champion_job="job-champion", challenger_job="job-challenger")
    out = _cleanup(keys)
    assert out["backtests"] == {"job-champion": "cancelled",
                                "job-challenger": "already finished"}
    tickets = TicketStore(stack["ddb"], TICKETS)
    champion = tickets.get("job-champion")
    assert champion is not None and champion["status"] == "CANCELLED"
    assert champion["cancelled_by"] == f"retraining {keys['run_id']}"
    assert stack["sfn"].describe_execution(executionArn=execution)["status"] == "ABORTED"
    challenger = from_item(stack["ddb"].get_item(TableName=TICKETS, Key={
        "job_id": {"S": "job-challenger"}})["Item"])
    assert challenger["status"] == "COMPLETED"


def test_a_run_that_failed_before_its_comparison_cancels_nothing(stack: dict[str, Any]) -> None:
    _ticket(stack, "someone-elses", "QUEUED")
    keys = _run(stack)
    assert _cleanup(keys)["backtests"] == {}
    other = TicketStore(stack["ddb"], TICKETS).get("someone-elses")
    assert other is not None and other["status"] == "QUEUED"


def test_an_expired_or_deleted_comparison_ticket_is_gone_not_an_error(
        stack: dict[str, Any]) -> None:
    keys = _run(stack, champion_job="never-written")
    assert _cleanup(keys)["backtests"] == {"never-written": "gone"}
