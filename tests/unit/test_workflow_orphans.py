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


class _Clock(Clock):
    def __init__(self, now: float) -> None:
        object.__setattr__(self, "_now", now)

    def now(self) -> float:
        return float(self._now)  # type: ignore[attr-defined]


def _ticket(ddb: Any, job_id: str, submitted: float, status: str = "QUEUED") -> None:
    """A ticket as the backend records it (tradai.backtests.service)."""
    from tradai.backtests.store import to_item
    ddb.put_item(TableName=TABLE, Item=to_item({
        "job_id": job_id, "owner": "alice", "created_at": "2026-12-05T00:00:00+00:00",
        "status": status, "submitted_epoch": int(submitted), "dedup_id": f"d-{job_id}",
        "kind": "backtest", "ttl": 4000000000,
        "job": {"strategy": "S", "version": "1", "pairs": ["BTC/USDT"], "timeframe": "5m"}}))


def test_a_ticket_that_may_never_have_been_sent_is_sent_again_once(aws: Any) -> None:
    """The backend writes nothing after its send, so a stop between its put and its send
    leaves only a QUEUED ticket: the scanner sends it, once (a second scan, or a concurrent
    one, does not), and leaves young, started and finished tickets alone. A copy of a message
    that did go out is dropped by SQS within the 5-minute deduplication interval:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html"""
    from tradai.backtests.queue import BacktestQueue
    from tradai.workflows.orphans import RESEND_AFTER_SECONDS

    ddb, sfn = aws
    now = 2_000_000_000.0
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    _ticket(ddb, "lost", now - 600)
    _ticket(ddb, "young", now - RESEND_AFTER_SECONDS / 2)  # may still be in its own send
    _ticket(ddb, "running", now - 600, status="RUNNING")
    _ticket(ddb, "done", now - 600, status="COMPLETED")
    store = JobStatusStore(ddb, TABLE, _Clock(now))
    scanner = OrphanScanner(store, sfn, TaskCleaner(FakeEcs([]), "c", "strategy"),
                            queue=BacktestQueue(sqs, url))
    assert scanner.scan().resent_jobs == ["lost"]
    assert scanner.scan().resent_jobs == []  # once per ticket
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              AttributeNames=["All"])["Messages"]
    assert len(got) == 1
    body = json.loads(got[0]["Body"])
    assert body["job_id"] == body["ticket_id"] == "lost" and body["strategy"] == "S"
    assert got[0]["Attributes"]["MessageGroupId"] == "alice"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d-lost"


def test_a_failed_re_send_is_tried_again_by_the_next_scan(aws: Any) -> None:
    from tradai.backtests.queue import BacktestQueue

    ddb, sfn = aws
    now = 2_000_000_000.0
    _ticket(ddb, "lost", now - 600)
    sent: list[str] = []

    class Queue(BacktestQueue):
        down = True

        def send(self, body: dict[str, Any], group_id: str, dedup_id: str) -> str:
            if self.down:
                raise ConnectionError("queue down")
            sent.append(body["job_id"])
            return "m"

    queue = Queue(None, "url")
    scanner = OrphanScanner(JobStatusStore(ddb, TABLE, _Clock(now)), sfn,
                            TaskCleaner(FakeEcs([]), "c", "strategy"), queue=queue)
    assert scanner.scan().resent_jobs == []
    queue.down = False
    assert scanner.scan().resent_jobs == ["lost"] and sent == ["lost"]
