"""A backtest's time, stage by stage: each component records its instant on the job item (in
the writes it makes anyway) and the status shows seconds per stage that add up to the total."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.backtests import stages
from tradai.backtests.service import to_status
from tradai.strategy_container.job import JobItem
from tradai.workflows.render import load_asl
from tradai.workflows.status import JobStatusStore
from tradai.workflows.updates import apply

TABLE = "tradai-test-workflow-state"
T0 = 1_800_000_000.0


class StepClock:
    """The platform clock, set by the test."""

    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=UTC)


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "job_id",
                                                   "AttributeType": "S"}])
        yield client


def _queued(ddb: Any, clock: StepClock) -> None:
    """The backend's ticket (``BacktestService._record``) with its submitted instant."""
    ddb.put_item(TableName=TABLE, Item={
        "job_id": {"S": "j1"}, "status": {"S": "QUEUED"}, "owner": {"S": "alice"},
        "created_at": {"S": clock.now_datetime().isoformat()}, "strategy": {"S": "S"},
        "ttl": {"N": str(int(T0) + 86400)},
        stages.attr("submitted"): {"N": str(stages.stamp(clock.now()))}})


def test_every_component_records_its_instant_and_the_stages_add_up(ddb: Any) -> None:
    clock = StepClock()
    statuses = JobStatusStore(ddb, TABLE, clock)  # type: ignore[arg-type]
    container = JobItem(ddb, TABLE, "j1", clock)  # type: ignore[arg-type]
    _queued(ddb, clock)
    clock.t = T0 + 2.5
    statuses.register("j1", {"strategy": "S"}, "arn:exec")  # the consumer: dequeued
    # validate-strategy and data-collection-proxy return their instants; update-status
    # RUNNING (the next state) writes them.
    clock.t = T0 + 9.0
    apply(statuses, {"job_id": "j1", "status": "RUNNING", "progress": 20,
                     "stages": {"validated": T0 + 4.0, "data_ready": T0 + 8.25}})
    clock.t = T0 + 20.0
    container.progress(40, {"task_started": T0 + 12.0, "freqtrade_started": T0 + 20.0})
    clock.t = T0 + 31.0
    container.succeeded({"total_trades": 3}, None,
                        {"freqtrade_finished": T0 + 30.0, "published": T0 + 31.0})
    clock.t = T0 + 33.5
    apply(statuses, {"job_id": "j1", "status": "COMPLETED"})

    timings = to_status(statuses.get("j1")).timings  # type: ignore[arg-type]
    assert timings == {"queue": 2.5, "validation": 1.5, "data": 4.25, "task_start": 3.75,
                       "preparation": 8.0, "freqtrade": 10.0, "publishing": 1.0,
                       "completion": 2.5, "total": 33.5}
    assert list(timings)[:-1] == [stage for stage, _, _ in stages.STAGES]  # in order
    assert sum(v for k, v in timings.items() if k != "total") == pytest.approx(33.5)


def test_a_job_that_failed_early_shows_the_stages_it_reached(ddb: Any) -> None:
    clock = StepClock()
    statuses = JobStatusStore(ddb, TABLE, clock)  # type: ignore[arg-type]
    _queued(ddb, clock)
    clock.t = T0 + 1.0
    statuses.register("j1", {"strategy": "S"}, "arn:exec")
    clock.t = T0 + 3.0
    apply(statuses, {"job_id": "j1", "status": "FAILED", "failed_stage": "validation",
                     "error": {"Error": "InvalidStrategy", "Cause": "no version 9"}})
    assert to_status(statuses.get("j1")).timings == {  # type: ignore[arg-type]
        "queue": 1.0, "total": 3.0}


def test_a_cancelled_job_has_its_finished_instant(ddb: Any) -> None:
    clock = StepClock()
    statuses = JobStatusStore(ddb, TABLE, clock)  # type: ignore[arg-type]
    _queued(ddb, clock)
    clock.t = T0 + 7.0
    assert statuses.cancel("j1", "alice", "alice").applied
    assert to_status(statuses.get("j1")).timings == {"total": 7.0}  # type: ignore[arg-type]


def test_a_redelivered_register_or_a_late_write_never_makes_a_stage_negative(ddb: Any) -> None:
    """The finished instant is written once (terminal jobs never move), so nothing recorded
    after it can make the last stage negative; what does not look like a number is ignored."""
    clock = StepClock()
    statuses = JobStatusStore(ddb, TABLE, clock)  # type: ignore[arg-type]
    _queued(ddb, clock)
    clock.t = T0 + 2.0
    apply(statuses, {"job_id": "j1", "status": "RUNNING", "progress": 20,
                     "stages": {"validated": "soon", "data_ready": True}})
    statuses.completed("j1")
    clock.t = T0 + 50.0
    assert not statuses.completed("j1").applied
    item = statuses.get("j1")
    assert item is not None and stages.attr("validated") not in item
    assert to_status(item).timings == {"total": 2.0}


def test_timings_ignore_what_is_not_a_number() -> None:
    item = {"at_submitted": 10, "at_dequeued": "x", "at_validated": True, "at_finished": 12.5}
    assert stages.timings(item) == {"total": 2.5}
    assert stages.timings({}) == {}
    with pytest.raises(ValueError, match="unknown instant"):
        stages.attr("lunch")


def test_the_workflow_hands_update_status_the_instants_its_lambdas_return() -> None:
    """The RUNNING update's ``stages`` read where the ValidateStrategy and EnsureData states
    put their Lambdas' answers (ResultSelector + ResultPath), under the keys those return."""
    states = load_asl("backtest_workflow.asl.json")["States"]
    paths = states["UpdateStatusRunning"]["Parameters"]["Payload"]["stages"]

    def where(state: str, key: str) -> str:
        selector = states[state]["ResultSelector"]
        (name, source), = selector.items()
        assert source == "$.Payload"  # the Lambda's return value
        return f"{states[state]['ResultPath']}.{name.removesuffix('.$')}.{key}"

    assert paths == {"validated.$": where("ValidateStrategy", "validated_at"),
                     "data_ready.$": where("EnsureData", "ready_at")}


def test_the_container_writes_its_instants_as_numbers(ddb: Any) -> None:
    clock = StepClock()
    _queued(ddb, clock)
    JobItem(ddb, TABLE, "j1", clock).progress(  # type: ignore[arg-type]
        40, {"task_started": T0 + 1.2345, "freqtrade_started": None})
    item = ddb.get_item(TableName=TABLE, Key={"job_id": {"S": "j1"}})["Item"]
    assert Decimal(item["at_task_started"]["N"]) == Decimal("1800000001.234") or \
        Decimal(item["at_task_started"]["N"]) == Decimal("1800000001.235")
    assert "at_freqtrade_started" not in item  # not reached: not written


def test_the_result_files_are_all_uploaded_and_a_failed_upload_fails_the_run() -> None:
    """Publishing uploads the files together (``ResultsBucket.put``); all of them arrive and
    any one that cannot be written fails the run with the key that failed."""
    from tradai.strategy_container.errors import DependencyFailed
    from tradai.strategy_container.results import ResultsBucket

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(Bucket="results", CreateBucketConfiguration={
            "LocationConstraint": "eu-central-1"})
        files = {f"f{i}.json": json.dumps({"i": i}) for i in range(12)}
        assert ResultsBucket(s3, "results").put("j1", files) == "s3://results/backtests/j1/"
        stored = s3.list_objects_v2(Bucket="results", Prefix="backtests/j1/")["Contents"]
        assert sorted(o["Key"].rsplit("/", 1)[1] for o in stored) == sorted(files)
        body = s3.get_object(Bucket="results", Key="backtests/j1/f7.json")["Body"].read()
        assert json.loads(body) == {"i": 7}
        with pytest.raises(DependencyFailed, match="s3://missing/backtests/j1/"):
            ResultsBucket(s3, "missing").put("j1", files)
