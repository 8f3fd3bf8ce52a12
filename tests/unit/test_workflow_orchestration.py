"""Starting workflows: once per job, never past capacity; the consumer's queue handling
(backoff, requeue instead of the DLQ when only waiting, FAILED on the last receive)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.clock import Clock
from tradai.workflows.consumer import SPARE_RECEIVES, BacktestConsumer, Deferred, QueueRecord
from tradai.workflows.orchestration import AtCapacity, InvalidMessage, WorkflowStarter
from tradai.workflows.slots import SlotLease
from tradai.workflows.status import JobStatusStore

REGION = "eu-central-1"
MAX_RECEIVE = 5  # the spec's backtest queue (AWS: at least 5 for a queue feeding Lambda)
TABLE = "wf-state"
SLOTS = "wf-slots"


@dataclass
class Env:
    sfn: Any
    sqs: Any
    store: JobStatusStore
    machine: str
    queue_url: str
    queue_arn: str
    dlq_url: str

    def starter(self, limit: int = 2) -> WorkflowStarter:
        slots = SlotLease(self.store.ddb, SLOTS, limit, self.store.clock, self.sfn)
        return WorkflowStarter(self.sfn, self.store, self.machine, slots)


@pytest.fixture
def env() -> Iterator[Env]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "job_id",
                                                "AttributeType": "S"}])
        create_spec_table(ddb, "backtest-slots", SLOTS)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(name="tradai-test-backtest-workflow", roleArn=role,
                                           definition=json.dumps({"StartAt": "P", "States": {
                                               "P": {"Type": "Pass", "End": True}}}))
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=[
            "QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName="q.fifo", Attributes={
            "FifoQueue": "true", "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE})})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        store = JobStatusStore(ddb, TABLE, Clock())
        yield Env(sfn, sqs, store, machine["stateMachineArn"], url, arn, dlq["QueueUrl"])


def _message(job_id: str, **extra: Any) -> dict[str, Any]:
    return {"job_id": job_id, "owner": "alice", "strategy": "S", "version": 1,
            "pairs": ["BTC/USDT"], "timeframe": "5m", **extra}


def test_a_job_starts_once_named_by_its_id(env: Env) -> None:
    starter = env.starter()
    first = starter.start(_message("job-1"))
    assert first["outcome"] == "started" and first["execution_arn"].endswith(":job-1")
    again = starter.start(_message("job-1"))
    assert again["outcome"] == "already-started"
    executions = env.sfn.list_executions(stateMachineArn=env.machine)["executions"]
    assert [e["name"] for e in executions] == ["job-1"]
    described = env.sfn.describe_execution(executionArn=first["execution_arn"])
    assert json.loads(described["input"])["mode"] == "backtest"
    assert env.store.get("job-1")["status"] == "RUNNING"


def test_capacity_is_the_number_of_backtest_slots(env: Env) -> None:
    starter = env.starter(limit=2)
    starter.start(_message("a"))
    starter.start(_message("b"))
    with pytest.raises(AtCapacity):
        starter.start(_message("c"))
    assert env.store.get("c") is None  # not registered: it still waits on the queue
    assert starter.start(_message("a"))["outcome"] == "already-started"  # not a new task


def test_finished_jobs_and_bad_messages_are_not_started(env: Env) -> None:
    env.store.register("done", _message("done"), "arn:x")
    env.store.failed("done", "earlier failure")
    assert env.starter().start(_message("done"))["outcome"] == "already-finished"
    with pytest.raises(InvalidMessage):
        env.starter().start({"job_id": "has spaces"})
    with pytest.raises(InvalidMessage):
        env.starter().start(_message("m", mode="live"))


def _record(env: Env, body: dict[str, Any], receive_count: int) -> QueueRecord:
    env.sqs.send_message(QueueUrl=env.queue_url, MessageBody=json.dumps(body),
                         MessageGroupId="alice", MessageDeduplicationId=body["job_id"])
    msg = env.sqs.receive_message(QueueUrl=env.queue_url, AttributeNames=["All"])["Messages"][0]
    return QueueRecord(msg["MessageId"], msg["Body"], msg["ReceiptHandle"], receive_count,
                       "alice", body["job_id"], env.queue_arn)


def _consumer(env: Env, start: Any) -> BacktestConsumer:
    return BacktestConsumer(env.sqs, env.store, start, backoff_seconds=1)


def _full(message: dict[str, Any], **_: Any) -> dict[str, Any]:
    raise AtCapacity("full")


def test_at_capacity_the_record_waits_with_a_short_backoff(env: Env) -> None:
    record = _record(env, _message("w1"), receive_count=1)
    with pytest.raises(Deferred):
        _consumer(env, _full).handle(record)
    assert env.store.get("w1") is None


def test_waiting_never_exhausts_the_receive_count(env: Env) -> None:
    early = _record(env, _message("w2"), receive_count=MAX_RECEIVE - SPARE_RECEIVES - 1)
    with pytest.raises(Deferred):
        _consumer(env, _full).handle(early)  # still waits in place, its group behind it
    env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=early.receipt_handle)
    record = _record(env, _message("w3"), receive_count=MAX_RECEIVE - SPARE_RECEIVES)
    outcome = _consumer(env, _full).handle(record)
    assert outcome["outcome"] == "requeued"
    env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=record.receipt_handle)
    copy = env.sqs.receive_message(QueueUrl=env.queue_url, AttributeNames=["All"])["Messages"]
    assert json.loads(copy[0]["Body"])["job_id"] == "w3"
    assert copy[0]["Attributes"]["ApproximateReceiveCount"] == "1"


class _SlotsFreeAfter:
    """StartExecution's stand-in: at capacity for the first ``busy`` calls."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.calls = 0

    def __call__(self, message: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.busy:
            raise AtCapacity("all slots are held")
        return {"outcome": "started", "job_id": message["job_id"]}


def _deliver(env: Env, consumer: BacktestConsumer, dies: bool) -> str:
    """One receive as the event source makes it (real receive counts, redrive and DLQ), then
    either an invocation that dies before the handler decides (a timeout: the receive is
    spent) or the handler; what the event source does with the outcome."""
    got = env.sqs.receive_message(QueueUrl=env.queue_url, AttributeNames=["All"],
                                  MessageAttributeNames=["All"], VisibilityTimeout=30)
    if not got.get("Messages"):
        return "none"
    msg = got["Messages"][0]
    visible_again = {"QueueUrl": env.queue_url, "ReceiptHandle": msg["ReceiptHandle"],
                     "VisibilityTimeout": 0}  # the visibility timeout passes
    if dies:
        env.sqs.change_message_visibility(**visible_again)
        return "died"
    attrs = msg["Attributes"]
    record = QueueRecord(msg["MessageId"], msg["Body"], msg["ReceiptHandle"],
                         int(attrs["ApproximateReceiveCount"]), attrs["MessageGroupId"],
                         attrs.get("MessageDeduplicationId"), env.queue_arn)
    try:
        outcome = consumer.handle(record)
    except Deferred:
        env.sqs.change_message_visibility(**visible_again)
        return "deferred"
    env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=msg["ReceiptHandle"])
    return str(outcome["outcome"])


@pytest.mark.parametrize("waits", range(2 * MAX_RECEIVE))
def test_a_waiting_job_survives_two_invocations_that_die(env: Env, waits: int) -> None:
    """The backlog benchmark's DLQ message: deferred twice, then invocations that timed out
    on a saturated cloud, each spending a receive without the handler deciding anything. A
    deferral now keeps two receives spare, however long the job has waited, and the queue
    keeps AWS's five (https://docs.aws.amazon.com/lambda/latest/dg/sqs-retries.html)."""
    env.sqs.send_message(QueueUrl=env.queue_url, MessageBody=json.dumps(_message("slow")),
                         MessageGroupId="alice", MessageDeduplicationId="slow")
    consumer = _consumer(env, _SlotsFreeAfter(busy=waits))
    seen = [_deliver(env, consumer, dies=False) for _ in range(waits)]
    assert set(seen) <= {"deferred", "requeued"}, seen
    seen += [_deliver(env, consumer, dies=True) for _ in range(2)]
    seen.append(_deliver(env, consumer, dies=False))
    assert seen[-1] == "started", seen
    assert env.sqs.receive_message(QueueUrl=env.dlq_url).get("Messages", []) == []


def test_last_receive_of_a_failing_job_marks_it_failed(env: Env) -> None:
    def broken(message: dict[str, Any], **_: Any) -> dict[str, Any]:
        raise RuntimeError("Step Functions throttled")

    early = _record(env, _message("f1"), receive_count=1)
    with pytest.raises(RuntimeError):
        _consumer(env, broken).handle(early)
    assert env.store.get("f1") is None  # retried by redelivery, nothing marked yet
    env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=early.receipt_handle)
    last = _record(env, _message("f2"), receive_count=MAX_RECEIVE)
    with pytest.raises(RuntimeError):
        _consumer(env, broken).handle(last)
    item = env.store.get("f2")
    assert item["status"] == "FAILED"
    assert item["error"].startswith("could not be started after 5 attempts: RuntimeError")
