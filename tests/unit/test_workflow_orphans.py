"""The orphan scanner: RUNNING jobs whose execution ended become FAILED with a reason, and
tasks of finished jobs are stopped; live work is left alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.clock import Clock
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.orphans import OrphanScanner
from tradai.workflows.status import JobStatusStore

TABLE = "tradai-test-workflow-state"
REGION = "eu-central-1"


class FakeEcs:
    """The ECS calls the cleaner and scanner make, over a fixed set of tasks."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = {t["taskArn"]: t for t in tasks}
        self.stopped: list[str] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_tasks"
        ecs = self

        class Pages:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                return [{"taskArns": [a for a, t in ecs.tasks.items()
                                      if t["lastStatus"] != "STOPPED"]}]

        return Pages()

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        return {"tasks": [self.tasks[a] for a in tasks]}

    def stop_task(self, cluster: str, task: str, reason: str) -> None:
        self.tasks[task]["lastStatus"] = "STOPPED"
        self.stopped.append(task)


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_spec_table(ddb, "workflow-state", TABLE)
        yield ddb, boto3.client("stepfunctions", region_name=REGION)


def _execution(sfn: Any, name: str, stop: bool) -> str:
    machine = sfn.create_state_machine(
        name=f"m-{name}", roleArn="arn:aws:iam::123456789012:role/x",
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600,
                                                               "End": True}}}))
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name)[
        "executionArn"]
    if stop:
        sfn.stop_execution(executionArn=arn)
    return arn


def _job(ddb: Any, job_id: str, status: str, execution_arn: str | None = None) -> None:
    item = {"job_id": {"S": job_id}, "status": {"S": status}, "ttl": {"N": "4000000000"}}  # live
    if execution_arn:
        item["execution_arn"] = {"S": execution_arn}
    ddb.put_item(TableName=TABLE, Item=item)


def _task(arn: str, group: str) -> dict[str, Any]:
    return {"taskArn": arn, "group": group, "lastStatus": "RUNNING"}


def test_dead_executions_fail_their_jobs_and_finished_jobs_lose_their_tasks(
    aws: tuple[Any, Any],
) -> None:
    ddb, sfn = aws
    _job(ddb, "dead", "RUNNING", _execution(sfn, "dead", stop=True))
    _job(ddb, "alive", "RUNNING", _execution(sfn, "alive", stop=False))
    _job(ddb, "starting", "RUNNING")  # registered, execution not started yet
    _job(ddb, "done", "COMPLETED")
    ecs = FakeEcs([_task("t-dead", "backtest:dead"), _task("t-alive", "backtest:alive"),
                   _task("t-done", "backtest:done"), _task("t-stray", "backtest:nobody"),
                   _task("t-service", "service:tradai-local-backend-api")])
    store = JobStatusStore(ddb, TABLE, Clock(scale=1.0, origin=1_700_000_000))
    scanner = OrphanScanner(store, sfn, TaskCleaner(ecs, "cluster", "family"))

    report = scanner.scan()

    assert report.failed_jobs == ["dead"]
    assert "ABORTED" in store.get("dead")["error"]
    assert store.get("alive")["status"] == "RUNNING"
    assert store.get("starting")["status"] == "RUNNING"
    assert store.get("done")["status"] == "COMPLETED"
    assert sorted(ecs.stopped) == ["t-dead", "t-done", "t-stray"]

    again = scanner.scan()  # nothing left to do: the scan is idempotent
    assert again.failed_jobs == [] and again.stopped_tasks == []


def test_the_scan_queries_the_status_index_and_reads_only_running_jobs(
    aws: tuple[Any, Any],
) -> None:
    """The scanner's read is a Query on the spec's by-status index: what DynamoDB reads (its
    ScannedCount) is the RUNNING jobs, not every ticket the table holds."""
    ddb, sfn = aws
    for i in range(40):
        _job(ddb, f"done-{i}", "COMPLETED" if i % 2 else "FAILED")
    _job(ddb, "dead", "RUNNING", _execution(sfn, "dead", stop=True))
    _job(ddb, "starting", "RUNNING")
    calls: list[tuple[str, dict[str, Any]]] = []
    for op in ("Query", "Scan"):
        ddb.meta.events.register(f"provide-client-params.dynamodb.{op}",
                                 lambda params, op=op, **_: calls.append((op, params)))
    read: list[int] = []
    ddb.meta.events.register("after-call.dynamodb.Query",
                             lambda parsed, **_: read.append(parsed["ScannedCount"]))
    store = JobStatusStore(ddb, TABLE, Clock(scale=1.0, origin=1_700_000_000))

    report = OrphanScanner(store, sfn, TaskCleaner(FakeEcs([]), "cluster", "family")).scan()

    assert report.running_jobs == 2 and report.failed_jobs == ["dead"]
    assert [(op, p.get("IndexName")) for op, p in calls] == [("Query", "by-status")]
    assert read == [2]
