"""The workflow's Lambda handlers against moto: the consumer's partial batch response and
idempotency, cleanup of a job's tasks, notifications; validation and data with fakes."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.registry.models import RegistryUnavailable, StrategyNotFound, StrategyVersion
from tradai.workflows.cleanup import TaskCleaner, task_group
from tradai.workflows.market_data import (
    DataCollectionClient,
    DataRequestRefused,
    DataServiceUnavailable,
    data_range,
)
from tradai.workflows.notify import message, publish
from tradai.workflows.strategy_check import InvalidStrategy, validate

REGION = "eu-central-1"
ACCOUNT = "123456789012"


@dataclass
class Context:
    function_name: str = "tradai-test-backtest-consumer"
    invoked_function_arn: str = (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                                 "tradai-test-backtest-consumer")
    memory_limit_in_mb: int = 256
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _table(ddb: Any, name: str, key: str) -> None:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing", "TRADAI_ENV": "test",
                 "TRADAI_PROJECT": "tradai",
                 "TRADAI_TABLE_WORKFLOW_STATE": "tradai-test-workflow-state",
                 "TRADAI_TABLE_IDEMPOTENCY": "tradai-test-idempotency",
                 "TRADAI_BACKTEST_MAX_CONCURRENT": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def _consumer_stack() -> tuple[Any, Any, str]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _table(ddb, "tradai-test-workflow-state", "job_id")
    _table(ddb, "tradai-test-idempotency", "id")
    create_spec_table(ddb, "backtest-slots", "tradai-test-backtest-slots")
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="tradai-test-backtest-workflow", roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )["stateMachineArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="tradai-test-backtest-queue.fifo",
                           Attributes={"FifoQueue": "true"})["QueueUrl"]
    return sfn, sqs, machine if url else ""


def _event(sqs: Any, *job_ids: str) -> dict[str, Any]:
    url = sqs.get_queue_url(QueueName="tradai-test-backtest-queue.fifo")["QueueUrl"]
    records = []
    for i, job_id in enumerate(job_ids):
        body = json.dumps({"job_id": job_id, "owner": "alice", "strategy": "S", "version": 1,
                           "pairs": ["BTC/USDT"], "timeframe": "5m"})
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=f"g{i}",
                         MessageDeduplicationId=f"{job_id}-{i}")
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                 AttributeNames=["All"])["Messages"]:
        records.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"], "attributes": m["Attributes"],
                        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:"
                                          "tradai-test-backtest-queue.fifo",
                        "awsRegion": REGION})
    return {"Records": records}


def test_consumer_starts_each_job_once_and_defers_past_capacity(aws: None) -> None:
    sfn, sqs, machine = _consumer_stack()
    import tradai.lambdas.backtest_consumer as consumer

    consumer = importlib.reload(consumer)
    # Two copies of one job, then another job: the limit is 1 slot.
    event = _event(sqs, "job-a", "job-a", "job-b")
    response = consumer.handler(event, Context())
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    by_job = {json.loads(r["body"])["job_id"]: r["messageId"] for r in event["Records"]
              if json.loads(r["body"])["job_id"] == "job-b"}
    assert failed == {by_job["job-b"]}  # at capacity: back to the queue
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["job-a"]



def test_the_final_status_write_frees_the_jobs_slot(aws: None) -> None:
    """update-status with COMPLETED or FAILED (the workflow's success path and every failure
    path end there) frees the job's slot; a progress update does not."""
    sfn, sqs, machine = _consumer_stack()
    import tradai.lambdas.backtest_consumer as consumer
    import tradai.lambdas.update_status as update_status

    consumer = importlib.reload(consumer)
    job_a = _event(sqs, "job-a")
    assert not consumer.handler(job_a, Context())["batchItemFailures"]
    sqs.delete_message(QueueUrl=sqs.get_queue_url(QueueName="tradai-test-backtest-queue.fifo")[
        "QueueUrl"], ReceiptHandle=job_a["Records"][0]["receiptHandle"])  # as the mapping does
    job_b = _event(sqs, "job-b")  # delivered again (the same record) until it starts
    with pytest.raises(BatchProcessingError, match="AtCapacity"):  # waits on the queue
        consumer.handler(job_b, Context())
    update_status.handler({"job_id": "job-a", "status": "RUNNING", "progress": 20}, Context())
    with pytest.raises(BatchProcessingError, match="AtCapacity"):  # still waits
        consumer.handler(job_b, Context())
    done = update_status.handler({"job_id": "job-a", "status": "FAILED",
                                  "failed_stage": "backtest"}, Context())
    assert done["slots_freed"] == [0]
    assert not consumer.handler(job_b, Context())["batchItemFailures"]
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert sorted(e["name"] for e in executions) == ["job-a", "job-b"]

# -- cleanup (a fake ECS: moto's awsvpc RunTask cannot make its network interface) --------
class FakeEcs:
    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = {t["taskArn"]: t for t in tasks}
        self.stopped: list[str] = []
        self.listed: dict[str, Any] = {}

    def get_paginator(self, name: str) -> Any:
        ecs = self

        class Pages:
            def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                ecs.listed = kw
                return [{"taskArns": [a for a, t in ecs.tasks.items()
                                      if t["lastStatus"] == "RUNNING"]}]
        return Pages()

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        return {"tasks": [self.tasks[a] for a in tasks]}

    def stop_task(self, cluster: str, task: str, reason: str) -> None:
        self.stopped.append(task)


def test_cleanup_stops_only_the_jobs_running_tasks() -> None:
    ecs = FakeEcs([
        {"taskArn": "t/mine", "group": task_group("job-1"), "lastStatus": "RUNNING"},
        {"taskArn": "t/other", "group": task_group("job-2"), "lastStatus": "RUNNING"},
        {"taskArn": "t/done", "group": task_group("job-1"), "lastStatus": "STOPPED"},
    ])
    crashed = {"Error": "States.TaskFailed", "Cause": json.dumps({"TaskArn": "t/done"})}
    stopped = TaskCleaner(ecs, "strategies", "tradai-test-strategy").stop_job_tasks(
        "job-1", crashed)
    assert stopped == ecs.stopped == ["t/mine"]
    assert ecs.listed == {"cluster": "strategies", "family": "tradai-test-strategy",
                          "desiredStatus": "RUNNING"}


# -- notifications --------------------------------------------------------------------------
def test_notification_carries_the_headline_metrics(aws: None) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    item = {"strategy": "EmaCrossover", "owner": "alice", "mlflow_url": "http://m/r/1",
            "result": {"total_trades": 7, "profit_total": 0.01, "max_drawdown": 0.02,
                       "win_rate": 0.5, "sharpe": 1.2}}
    publish(sns, topic, message("j1", "COMPLETED", item))
    body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body["metrics"] == {"total_trades": 7, "profit_total": 0.01, "max_drawdown": 0.02,
                               "win_rate": 0.5}
    assert body["mlflow_url"] == "http://m/r/1" and body["status"] == "COMPLETED"


# -- validation (fakes) ---------------------------------------------------------------------
VERSION = StrategyVersion(name="S", version=3, timeframe="5m", pairs=["BTC/USDT"],
                          warmup_days=2, config_s3_path="s3://c/strategies/S/v3/config.json",
                          strategy_class="S")


class Registry:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.asked: list[Any] = []

    def get_model_version(self, name: str, ref: str | int) -> StrategyVersion:
        self.asked.append(ref)
        if self.error:
            raise self.error
        return VERSION


class Configs:
    def __init__(self, missing: bool = False) -> None:
        self.missing = missing

    def get(self, path: str) -> dict[str, Any]:
        if self.missing:
            raise StrategyNotFound(f"strategy config {path} does not exist")
        return {"timeframe": "5m"}


def test_validation_resolves_the_pinned_version_then_alias() -> None:
    registry = Registry()
    assert validate({"strategy": "S", "version": 3, "alias": "champion"}, registry,
                    Configs())["warmup_days"] == 2
    validate({"strategy": "S", "alias": "champion"}, registry, Configs())
    assert registry.asked == [3, "champion"]


@pytest.mark.parametrize(("registry", "configs", "match"), [
    (Registry(StrategyNotFound("strategy 'S' has no version 9")), Configs(), "no version 9"),
    (Registry(), Configs(missing=True), "config .* does not exist; register the version"),
])
def test_invalid_versions_are_named_errors(registry: Registry, configs: Configs,
                                           match: str) -> None:
    with pytest.raises(InvalidStrategy, match=match):
        validate({"strategy": "S", "version": 9}, registry, configs)


def test_an_unavailable_registry_is_not_an_invalid_strategy() -> None:
    with pytest.raises(RegistryUnavailable):
        validate({"strategy": "S"}, Registry(RegistryUnavailable("down")), Configs())


# -- market data (fake HTTP) ----------------------------------------------------------------
def _client(answers: list[tuple[int, dict[str, Any]]]) -> tuple[DataCollectionClient, list]:
    seen: list[httpx.Request] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = answers.pop(0)
        return httpx.Response(status, json=body)

    http = httpx.Client(transport=httpx.MockTransport(reply))
    return DataCollectionClient("http://data:8002", http), seen


def test_data_range_adds_warmup_and_clamps_the_future() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 3, 1, tzinfo=UTC)
    rng = data_range("20240110-20240120", 3, now)
    assert rng.start == datetime(2024, 1, 7, tzinfo=UTC)
    assert rng.end == datetime(2024, 1, 20, tzinfo=UTC)
    assert data_range("20240220-20240310", 0, now).end is None


def test_ensure_polls_a_running_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tradai.workflows.market_data.POLL_SECONDS", 0.0)
    client, seen = _client([(202, {"job_id": "d1", "status": "running"}),
                            (200, {"job_id": "d1", "status": "running"}),
                            (200, {"job_id": "d1", "status": "succeeded", "written": 5})])
    rng = data_range("20240110-20240120", 0, __import__("datetime").datetime.now(
        __import__("datetime").UTC))
    assert client.ensure(["BTC/USDT"], "5m", rng, 100)["written"] == 5
    body = json.loads(seen[0].content)
    assert body["wait_seconds"] <= 150 and seen[-1].url.path == "/api/v1/data/jobs/d1"


@pytest.mark.parametrize(("status", "body", "error"), [
    (503, {"job_id": "d", "status": "failed", "error": {"error": "exchange_unavailable",
                                                        "reason": "binance unreachable"}},
     DataServiceUnavailable),
    (422, {"detail": [{"loc": ["body", "start"], "msg": "start is in the future"}]},
     DataRequestRefused),
    (200, {"job_id": "d", "status": "failed", "error": {"error": "unknown_pair"}},
     DataRequestRefused),
])
def test_ensure_errors(status: int, body: dict[str, Any], error: type[Exception]) -> None:
    client, _ = _client([(status, body)])
    rng = data_range(None, 0, __import__("datetime").datetime(2024, 3, 1))
    with pytest.raises(error):
        client.ensure(["BTC/USDT"], "5m", rng, 100)
