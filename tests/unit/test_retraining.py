"""The Retraining workflow's domain and thin handlers (issue 12 items 3-6): the decision rule
with its margin, one run per strategy and day, the idempotent consumer (a redelivered message
starts one run), the check, the comparison through backtest tickets, promotion by the
workflow with an audit record, rollback refusals, and every failure recorded with a reason."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.backtests.models import BacktestTicket
from tradai.registry.audit import AuditLog
from tradai.registry.models import (
    StrategyDetail,
    StrategyNotFound,
    StrategySummary,
    StrategyVersion,
)
from tradai.registry.promotion import Promotion
from tradai.retraining import decision as D
from tradai.retraining.requests import (
    NoModel,
    RetrainingScheduler,
    RunQueue,
    champion_model,
    day_start,
)
from tradai.retraining.rollback import rollback
from tradai.retraining.runs import COMPLETED, FAILED, QUEUED, RUNNING, SKIPPED, RunStore, iso
from tradai.retraining.settings import RetrainingSettings
from tradai.retraining.starter import RetrainingConsumer, RetrainingStarter
from tradai.retraining.steps import (
    CheckRetraining,
    Comparison,
    ComparisonFailed,
    FreshRegistry,
    failed,
    promote,
)
from tradai.workflows.consumer import QueueRecord

REGION, ACCOUNT = "eu-central-1", "123456789012"
RUNS, DRIFT, AUDIT = "tradai-test-retraining-state", "tradai-test-drift-state", \
    "tradai-test-registry-audit"
QUEUE = "tradai-test-retraining-queue.fifo"
DAY = 86400.0
NOW = 1_796_000_000.0  # 2026-11-30


# -- the decision rule ------------------------------------------------------------------------
def test_the_challenger_is_promoted_only_when_it_beats_the_champion_by_more_than_the_margin():
    champion = {"profit_total": 0.05, "max_drawdown": 0.10}
    assert D.decide(champion, {"profit_total": 0.07}, ["profit_total"], 0.01).promote
    kept = D.decide(champion, {"profit_total": 0.055}, ["profit_total"], 0.01)
    assert not kept.promote and "profit_total" in kept.reason and "0.01" in kept.reason
    assert kept.deltas == {"profit_total": pytest.approx(0.005)}
    # exactly the margin is not more than it
    assert not D.decide(champion, {"profit_total": 0.06}, ["profit_total"], 0.01 + 1e-12).promote
    # every metric must pass; a drawdown is better lower
    both = ["profit_total", "max_drawdown"]
    assert D.decide(champion, {"profit_total": 0.08, "max_drawdown": 0.05}, both, 0.01).promote
    worse_dd = D.decide(champion, {"profit_total": 0.08, "max_drawdown": 0.12}, both, 0.01)
    assert not worse_dd.promote and "max_drawdown" in worse_dd.reason
    # a negative margin tolerates a slightly worse challenger (an operator's choice)
    assert D.decide(champion, {"profit_total": 0.045}, ["profit_total"], -0.01).promote


def test_a_missing_metric_keeps_the_champion_and_an_unknown_one_is_refused():
    kept = D.decide({"profit_total": 0.05}, {"total_trades": 3}, ["profit_total"], 0.0)
    assert not kept.promote and "challenger's backtest has no profit_total" in kept.reason
    with pytest.raises(D.InvalidRule, match="unknown metrics"):
        D.decide({}, {}, ["profit_totl"], 0.0)
    with pytest.raises(D.InvalidRule, match="no metrics"):
        D.decide({}, {}, [], 0.0)


# -- fakes: the registry and the clock --------------------------------------------------------
@dataclass
class FakeClock:
    t: float = NOW

    def now(self) -> float:
        return self.t

    def now_datetime(self) -> Any:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(self.t, UTC)


def version(name: str, n: int, *, model: bool = True, created: float = NOW - 2 * DAY,
            aliases: list[str] | None = None) -> StrategyVersion:
    tags = {"model_reference": "strategy/model/reference.json", "training_pair": "BTC/USDT",
            "training_timeframe": "5m"} if model else {}
    return StrategyVersion(name=name, version=n, aliases=aliases or [], timeframe="5m",
                           pairs=["BTC/USDT"], warmup_days=1, config_s3_path="s3://c/x.json",
                           strategy_class=name, created_at=created, tags=tags)


class FakeRegistry:
    def __init__(self) -> None:
        self.versions: dict[str, dict[int, StrategyVersion]] = {}
        self.aliases: dict[str, dict[str, int]] = {}

    def add(self, v: StrategyVersion, champion: bool = False) -> None:
        self.versions.setdefault(v.name, {})[v.version] = v
        self.aliases.setdefault(v.name, {})
        if champion:
            self.aliases[v.name]["champion"] = v.version

    def get_model_version(self, name: str, ref: str | int = "latest") -> StrategyVersion:
        if name not in self.versions:
            raise StrategyNotFound(f"no strategy {name!r}")
        n = self.aliases[name].get(str(ref)) if not str(ref).isdigit() else int(ref)
        if n is None or n not in self.versions[name]:
            raise StrategyNotFound(f"{name} has no version {ref}")
        return self.versions[name][n]

    def list_strategies(self) -> list[StrategySummary]:
        return [StrategySummary(name=n, aliases=dict(self.aliases[n])) for n in self.versions]

    def get_strategy(self, name: str) -> StrategyDetail:
        if name not in self.versions:
            raise StrategyNotFound(f"no strategy {name!r}")
        return StrategyDetail(name=name, aliases=dict(self.aliases[name]),
                              versions=list(self.versions[name].values()))

    def set_alias(self, name: str, alias: str, n: int) -> None:
        self.aliases[name][alias] = n


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for k, v in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_spec_table(ddb, "retraining-state", RUNS)
        create_spec_table(ddb, "drift-state", DRIFT)
        create_spec_table(ddb, "registry-audit", AUDIT)
        create_spec_table(ddb, "workflow-state", "tradai-test-workflow-state")
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName=QUEUE, Attributes={"FifoQueue": "true"})["QueueUrl"]
        yield {"ddb": ddb, "sqs": sqs, "url": url}


def _messages(aws: dict[str, Any]) -> list[dict[str, Any]]:
    got = aws["sqs"].receive_message(QueueUrl=aws["url"], MaxNumberOfMessages=10,
                                     AttributeNames=["All"]).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def _drifting(aws: dict[str, Any], name: str, v: int) -> None:
    aws["ddb"].put_item(TableName=DRIFT, Item={
        "model_name": {"S": name}, "version": {"N": str(v)}, "status": {"S": "DRIFTING"},
        "max_psi": {"N": "0.4"}, "max_feature": {"S": "ret_1"}})


# -- scheduling: one run per strategy and day -------------------------------------------------
def test_the_scheduler_queues_a_drifting_or_old_champion_once_a_day(aws: dict[str, Any]):
    registry = FakeRegistry()
    registry.add(version("Drifty", 1), champion=True)
    registry.add(version("Old", 2, created=NOW - 40 * DAY), champion=True)
    registry.add(version("Young", 1), champion=True)
    registry.add(version("Rules", 1, model=False), champion=True)
    from tradai.retraining.requests import DriftTable

    _drifting(aws, "Drifty", 1)
    runs, clock = RunStore(aws["ddb"], RUNS), FakeClock()
    scheduler = RetrainingScheduler(registry, DriftTable(aws["ddb"], DRIFT),
                                    RunQueue(runs, aws["sqs"], aws["url"], clock), clock, 30.0)
    report = scheduler.run()
    assert sorted(report.queued) == ["Drifty", "Old"]
    assert report.fine == ["Young"] and report.skipped == ["Rules"] and not report.errors
    clock.t += 3600  # the schedule runs again the same day (a retry): nothing new
    again = scheduler.run()
    assert again.queued == [] and sorted(again.already) == ["Drifty", "Old"]
    sent = _messages(aws)
    assert sorted((m["model_name"], m["trigger"]) for m in sent) == [("Drifty", "drift"),
                                                                        ("Old", "age")]
    run = runs.get("Drifty", day_start(NOW))
    assert run is not None and run["state"] == QUEUED and run["enqueued"] is True
    assert run["run_id"] == sent[[m["model_name"] for m in sent].index("Drifty")]["run_id"]
    clock.t += DAY  # the next day is a new run
    assert sorted(scheduler.run().queued) == ["Drifty", "Old"]


def test_a_retraining_request_for_a_strategy_without_a_model_is_refused_with_a_reason():
    registry = FakeRegistry()
    registry.add(version("Rules", 1, model=False), champion=True)
    with pytest.raises(NoModel, match="not driven by a trained model"):
        champion_model(registry, "Rules")
    with pytest.raises(StrategyNotFound, match="Nope"):
        champion_model(registry, "Nope")


# -- the idempotent start ---------------------------------------------------------------------
class FakeSfn:
    """StartExecution as AWS answers a name used before: the same input while the execution
    runs gets that execution, anything else ExecutionAlreadyExists
    (https://docs.aws.amazon.com/botocore/latest/reference/services/stepfunctions/client/exceptions/ExecutionAlreadyExists.html).
    """

    def __init__(self) -> None:
        self.started: list[str] = []
        self.inputs: dict[str, str] = {}
        self.closed: set[str] = set()

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if name in self.inputs:
            if self.inputs[name] == input and name not in self.closed:
                return {"executionArn": f"arn:{name}"}
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists", "Message": name}},
                              "StartExecution")
        self.started.append(name)
        self.inputs[name] = input
        return {"executionArn": f"arn:{name}"}


MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:tradai-test-retraining-workflow"


def _record(body: str, receive: int = 1) -> QueueRecord:
    return QueueRecord(message_id="m", body=body, receipt_handle="r", receive_count=receive,
                       group_id="S", dedup_id="d",
                       queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}")


def test_a_redelivered_message_starts_one_run(aws: dict[str, Any]):
    runs, clock, sfn = RunStore(aws["ddb"], RUNS), FakeClock(), FakeSfn()
    queue = RunQueue(runs, aws["sqs"], aws["url"], clock)
    run, created = queue.request("S", iso(NOW), "operator", "test", champion=1)
    assert created
    [body] = [json.dumps(m) for m in _messages(aws)]
    starter = RetrainingStarter(sfn, runs, MACHINE, clock)
    consumer = RetrainingConsumer(aws["sqs"], runs, starter.start, clock)
    first = consumer.handle(_record(body))
    again = consumer.handle(_record(body, receive=2))  # while it runs: the same execution
    assert first["outcome"] == again["outcome"] == "started"
    assert first["execution_arn"] == again["execution_arn"]
    sfn.closed.add(run["run_id"])  # once it ended, the name is refused: still one run
    assert consumer.handle(_record(body, receive=3))["outcome"] == "already-started"
    assert sfn.started == [run["run_id"]]
    runs.update("S", iso(NOW), clock.now(), state=COMPLETED)
    assert consumer.handle(_record(body, receive=4))["outcome"] == "already-finished"
    assert sfn.started == [run["run_id"]]


def test_the_sqs_consumer_handler_starts_one_execution_for_two_deliveries(
        aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    """The real handler: Powertools' idempotency on the run id, then the execution name."""
    ddb = aws["ddb"]
    create_spec_table(ddb, "idempotency", "tradai-test-idempotency")
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="tradai-test-retraining-workflow", roleArn=role,
                                       definition=json.dumps({"StartAt": "P", "States": {
                                           "P": {"Type": "Pass", "End": True}}}))
    for k, v in {"TRADAI_ENV": "test", "TRADAI_TABLE_RETRAINING_STATE": RUNS,
                 "TRADAI_TABLE_IDEMPOTENCY": "tradai-test-idempotency",
                 "TRADAI_STATE_MACHINE_RETRAINING_WORKFLOW": machine["stateMachineArn"]
                 }.items():
        monkeypatch.setenv(k, v)
    import tradai.lambdas.sqs_consumer as handler_module
    import tradai.retraining.wiring as wiring

    wiring.settings.cache_clear()
    wiring.runs.cache_clear()
    handler_module = importlib.reload(handler_module)
    body = json.dumps({"run_id": "20261130T000000-S", "model_name": "S",
                       "requested_at": "2026-11-30T00:00:00Z", "trigger": "operator"})
    records = []
    for i in range(2):
        aws["sqs"].send_message(QueueUrl=aws["url"], MessageBody=body, MessageGroupId="S",
                                MessageDeduplicationId=f"copy-{i}")
    for m in aws["sqs"].receive_message(QueueUrl=aws["url"], MaxNumberOfMessages=10,
                                        AttributeNames=["All"])["Messages"]:
        records.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"], "attributes": m["Attributes"],
                        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
                        "awsRegion": REGION})
    assert len(records) == 2

    @dataclass
    class Context:
        function_name: str = "tradai-test-sqs-consumer"
        memory_limit_in_mb: int = 256
        invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:x"
        aws_request_id: str = "req-1"

        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    for record in records:  # one delivery per invocation (batch size 1)
        assert handler_module.handler({"Records": [record]}, Context())["batchItemFailures"] \
            == []
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert [e["name"] for e in executions] == ["20261130T000000-S"]
    run = RunStore(ddb, RUNS).get("S", "2026-11-30T00:00:00Z")
    assert run is not None and run["execution_arn"].endswith(":20261130T000000-S")


def test_the_last_failed_delivery_marks_the_run_failed_with_the_reason(aws: dict[str, Any]):
    runs, clock = RunStore(aws["ddb"], RUNS), FakeClock()
    RunQueue(runs, aws["sqs"], aws["url"], clock).request("S", iso(NOW), "operator", "t")

    def refuse(message: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("state machine is gone")

    consumer = RetrainingConsumer(aws["sqs"], runs, refuse, clock)
    body = json.dumps({"model_name": "S", "requested_at": iso(NOW)})
    with pytest.raises(RuntimeError):
        consumer.handle(_record(body, receive=1))
    assert runs.get("S", iso(NOW))["state"] == QUEUED  # retried by redelivery
    with pytest.raises(RuntimeError):
        consumer.handle(_record(body, receive=5))  # the queue's maxReceiveCount
    run = runs.get("S", iso(NOW))
    assert run["state"] == FAILED
    assert run["reason"].startswith("could not be started after 5 attempts")


# -- the workflow's steps ---------------------------------------------------------------------
def _settings(**kw: Any) -> RetrainingSettings:
    return RetrainingSettings(TRADAI_TABLE_RETRAINING_STATE=RUNS, **kw)  # type: ignore[call-arg]


def test_the_check_skips_a_scheduled_run_whose_champion_recovered_and_plans_the_windows(
        aws: dict[str, Any]):
    from tradai.retraining.requests import DriftTable

    registry = FakeRegistry()
    registry.add(version("S", 3), champion=True)
    runs, clock = RunStore(aws["ddb"], RUNS), FakeClock()
    queue = RunQueue(runs, aws["sqs"], aws["url"], clock)
    queue.request("S", day_start(NOW), "drift", "was drifting", champion=3)
    check = CheckRetraining(registry, DriftTable(aws["ddb"], DRIFT), runs, clock,
                            _settings(TRADAI_RETRAINING_TRAIN_DAYS=7,
                                      TRADAI_RETRAINING_COMPARE_DAYS=3))
    keys = {"model_name": "S", "requested_at": day_start(NOW)}
    assert check.check(keys)["needed"] is False  # no longer drifting, young
    assert runs.get("S", day_start(NOW))["state"] == SKIPPED

    queue.request("S", iso(NOW), "operator", "now please", champion=3, margin=0.5)
    plan = check.check({"model_name": "S", "requested_at": iso(NOW)})
    assert plan["needed"] and plan["champion_version"] == 3 and plan["margin"] == 0.5
    # 2026-11-30: compare on the 3 days before, train on the 7 before those
    assert plan["compare_timerange"] == "20261127-20261130"
    assert plan["train_timerange"] == "20261120-20261127"
    assert plan["train_end_ms"] - plan["train_start_ms"] == 7 * 86_400_000 - 300_000
    assert runs.get("S", iso(NOW))["state"] == RUNNING


class FakeBacktests:
    def __init__(self, tickets: dict[str, dict[str, Any]]) -> None:
        self.tickets, self.submitted = tickets, []

    def submit(self, request: Any, owner: Any, idempotency_key: str) -> BacktestTicket:
        self.submitted.append((request.version, request.timerange, owner.id, idempotency_key))
        job = f"job-{request.version}"
        self.tickets.setdefault(job, {"status": "QUEUED"})
        return BacktestTicket(ticket_id=job, job_id=job)


class FakeTickets:
    def __init__(self, tickets: dict[str, dict[str, Any]]) -> None:
        self.tickets = tickets

    def get(self, job: str) -> dict[str, Any] | None:
        return self.tickets.get(job)


class Tagged:
    def __init__(self, n: int | None) -> None:
        self.n = n

    def tagged(self, strategy: str, run_id: str) -> int | None:
        return self.n


def _running_run(aws: dict[str, Any], margin: float) -> tuple[RunStore, dict[str, Any]]:
    runs, clock = RunStore(aws["ddb"], RUNS), FakeClock()
    run, _ = RunQueue(runs, aws["sqs"], aws["url"], clock).request(
        "S", iso(NOW), "operator", "t", champion=1)
    runs.update("S", iso(NOW), NOW, state=RUNNING, champion_version=1, pair="BTC/USDT",
                timeframe="5m", compare_timerange="20261127-20261130", margin=margin,
                metrics=["profit_total"])
    return runs, {"model_name": "S", "requested_at": iso(NOW), "run_id": run["run_id"]}


@pytest.mark.parametrize("margin,promoted", [(0.01, True), (0.5, False)])
def test_the_comparison_backtests_both_on_one_window_then_promotes_or_keeps(
        aws: dict[str, Any], margin: float, promoted: bool):
    runs, keys = _running_run(aws, margin)
    tickets: dict[str, dict[str, Any]] = {}
    backtests, clock = FakeBacktests(tickets), FakeClock()
    comparison = Comparison(backtests, FakeTickets(tickets), Tagged(2), runs, clock)  # type: ignore[arg-type]
    assert comparison.submit(keys) == {"challenger_version": 2,
                                       "jobs": {"champion": "job-1", "challenger": "job-2"}}
    assert [(v, tr, who) for v, tr, who, _ in backtests.submitted] == [
        (1, "20261127-20261130", "retraining-workflow"),
        (2, "20261127-20261130", "retraining-workflow")]
    assert comparison.poll(keys)["done"] is False
    tickets["job-1"] = {"status": "COMPLETED", "result": {"profit_total": 0.02}}
    tickets["job-2"] = {"status": "COMPLETED", "result": {"profit_total": 0.05}}
    assert comparison.poll(keys)["done"] is True
    verdict = comparison.decide(keys)
    assert verdict["promote"] is promoted
    run = runs.get("S", iso(NOW))
    assert run["champion_metrics"] == {"profit_total": 0.02}
    assert run["challenger_metrics"] == {"profit_total": 0.05}
    if not promoted:
        assert run["state"] == COMPLETED and run["decision"] == "kept"
        assert "needs a gain over 0.5" in run["reason"]
        return
    assert run["state"] == RUNNING  # promote-model finishes it
    registry = FakeRegistry()
    registry.add(version("S", 1), champion=True)
    registry.add(version("S", 2))
    audit = AuditLog(aws["ddb"], AUDIT, clock)  # type: ignore[arg-type]
    out = promote(Promotion(FreshRegistry(registry), audit), runs, clock,  # type: ignore[arg-type]
                  {**keys, "reason": verdict["reason"]})
    assert out["promoted"] == 2 and registry.aliases["S"]["champion"] == 2
    [event] = audit.history("S")
    assert (event.action, event.from_version, event.to_version, event.actor) == \
        ("promote", 1, 2, "retraining-workflow")
    run = runs.get("S", iso(NOW))
    assert run["state"] == COMPLETED and run["decision"] == "promoted"
    assert run["audit_event"] == event.event_id


def test_a_failed_comparison_backtest_fails_the_run_with_its_reason(aws: dict[str, Any]):
    runs, keys = _running_run(aws, 0.0)
    tickets: dict[str, dict[str, Any]] = {}
    comparison = Comparison(FakeBacktests(tickets), FakeTickets(tickets), Tagged(2), runs,  # type: ignore[arg-type]
                            FakeClock())
    comparison.submit(keys)
    tickets["job-2"] = {"status": "FAILED", "error": "backtest container exited with code 1"}
    with pytest.raises(ComparisonFailed, match="challenger's backtest job-2 ended FAILED"):
        comparison.poll(keys)
    cause = json.dumps({"errorType": "ComparisonFailed",
                        "errorMessage": "the challenger's backtest job-2 ended FAILED: boom"})
    failed(runs, FakeClock(), {**keys, "failed_stage": "compare",
                               "error": {"Error": "ComparisonFailed", "Cause": cause}})
    run = runs.get("S", iso(NOW))
    assert run["state"] == FAILED and run["failed_stage"] == "compare"
    assert run["reason"] == ("comparing champion and challenger failed: the challenger's "
                             "backtest job-2 ended FAILED: boom")


def test_the_same_model_again_is_kept_without_backtests(aws: dict[str, Any]):
    runs, keys = _running_run(aws, 0.0)
    backtests = FakeBacktests({})
    comparison = Comparison(backtests, FakeTickets({}), Tagged(1), runs, FakeClock())  # type: ignore[arg-type]
    assert comparison.submit(keys)["jobs"] == {} and backtests.submitted == []
    assert comparison.poll(keys)["done"] is True
    assert comparison.decide(keys)["promote"] is False
    run = runs.get("S", iso(NOW))
    assert run["decision"] == "kept" and "itself" in run["reason"]


def test_a_training_task_failure_is_recorded_with_the_stage_and_exit_code(aws: dict[str, Any]):
    runs, keys = _running_run(aws, 0.0)
    cause = json.dumps({"TaskArn": "arn:t", "Containers": [{"ExitCode": 1}],
                        "StoppedReason": "Essential container in task exited"})
    out = failed(runs, FakeClock(), {**keys, "failed_stage": "train",
                                     "error": {"Error": "States.TaskFailed", "Cause": cause}})
    assert out["reason"] == "training the challenger failed: container exited with code 1"
    assert runs.get("S", iso(NOW))["state"] == FAILED


def test_a_failure_path_does_not_overwrite_a_finished_run(aws: dict[str, Any]):
    runs, keys = _running_run(aws, 0.0)
    runs.update("S", iso(NOW), NOW, state=COMPLETED, decision="kept", reason="fine")
    out = failed(runs, FakeClock(), {**keys, "failed_stage": "check",
                                     "error": {"Error": "RunFinished", "Cause": "{}"}})
    assert out["state"] == "unchanged"
    run = runs.get("S", iso(NOW))
    assert (run["state"], run["decision"], run["reason"]) == (COMPLETED, "kept", "fine")


# -- rollback ---------------------------------------------------------------------------------
def test_rollback_refuses_unknown_strategies_and_missing_history_then_walks_back(
        aws: dict[str, Any]):
    registry = FakeRegistry()
    registry.add(version("S", 1), champion=True)
    registry.add(version("S", 2))
    clock = FakeClock()
    promotion = Promotion(FreshRegistry(registry), AuditLog(aws["ddb"], AUDIT, clock))  # type: ignore[arg-type]
    ask = {"strategy": "S", "reason": "v2 loses money", "actor": "olga"}
    nothing = rollback(promotion, ask)
    assert nothing["status"] == "refused" and nothing["code"] == 409
    assert "no move on record" in nothing["reason"]
    unknown = rollback(promotion, {**ask, "strategy": "Nope"})
    assert unknown["status"] == "refused" and unknown["code"] == 404
    assert rollback(promotion, {**ask, "reason": " "})["code"] == 400
    assert rollback(promotion, {**ask, "strategy": "../x"})["code"] == 400
    assert registry.aliases["S"]["champion"] == 1  # nothing moved
    from tradai.retraining.steps import workflow_principal

    promotion.promote("S", "champion", 2, "retrained", workflow_principal("r1"))
    done = rollback(promotion, ask)
    assert done["status"] == "rolled-back" and (done["from_version"], done["to_version"]) == \
        (2, 1)
    assert registry.aliases["S"]["champion"] == 1
    assert done["event"]["actor"] == "olga" and done["event"]["reason"] == "v2 loses money"


# -- the API ----------------------------------------------------------------------------------
def test_the_api_lists_runs_shows_drift_and_queues_an_operators_run(aws: dict[str, Any]):
    from fastapi.testclient import TestClient

    from tests.unit.test_backend_fixtures import principal
    from tradai.services.backend_api.dependencies import get_principal, get_registry, get_settings
    from tradai.services.backend_api.main import create_app
    from tradai.services.backend_api.settings import BackendSettings

    registry = FakeRegistry()
    registry.add(version("Model", 4), champion=True)
    registry.add(version("Rules", 1, model=False), champion=True)
    _drifting(aws, "Model", 4)
    settings = BackendSettings(TRADAI_TABLE_RETRAINING_STATE=RUNS,  # type: ignore[call-arg]
                               TRADAI_TABLE_DRIFT_STATE=DRIFT,
                               TRADAI_QUEUE_RETRAINING_QUEUE=aws["url"],
                               TRADAI_MLFLOW_URL="http://registry.invalid")
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: settings
    app.dependency_overrides[get_registry] = lambda: registry
    app.dependency_overrides[get_principal] = lambda: principal("olga", ("operator",))
    with TestClient(app) as client:
        drift = client.get("/api/v1/strategies/Model/drift")
        assert drift.status_code == 200 and drift.json()["status"] == "DRIFTING"
        missing = client.get("/api/v1/strategies/Rules/drift")
        assert missing.status_code == 404 and "no drift measured" in missing.json()["detail"]
        unknown = client.post("/api/v1/strategies/Nope/retrain", json={})
        assert unknown.status_code == 404 and "Nope" in unknown.json()["detail"]
        no_model = client.post("/api/v1/strategies/Rules/retrain", json={})
        assert no_model.status_code == 422
        assert "not driven by a trained model" in no_model.json()["detail"]
        bad = client.post("/api/v1/strategies/Model/retrain", json={"margin": "lots"})
        assert bad.status_code == 422
        queued = client.post("/api/v1/strategies/Model/retrain",
                             json={"reason": "regime change", "margin": 0.02})
        assert queued.status_code == 202, queued.text
        run = queued.json()
        assert (run["model_name"], run["state"], run["trigger"], run["champion_version"]) == \
            ("Model", "QUEUED", "operator", 4)
        [message] = _messages(aws)
        assert message["run_id"] == run["run_id"] and message["margin"] == 0.02
        listed = client.get("/api/v1/retraining").json()["runs"]
        assert [r["run_id"] for r in listed] == [run["run_id"]]
        assert client.get("/api/v1/retraining", params={"strategy": "Rules"}).json() == \
            {"runs": []}
    app.dependency_overrides[get_principal] = lambda: principal("ann", ("researcher",))
    with TestClient(app) as client:
        refused = client.post("/api/v1/strategies/Model/retrain", json={})
        assert refused.status_code == 403 and "operator" in refused.json()["detail"]


# -- the hand-off between the training and the registration tasks ----------------------------
def test_the_trained_model_folder_round_trips_through_the_results_bucket(
        aws: dict[str, Any], tmp_path: Any):
    from tradai.retraining.handoff import FILES, download, upload

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="results", CreateBucketConfiguration={
        "LocationConstraint": REGION})
    folder = tmp_path / "model"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes(f"content of {name}".encode())
    keys = upload(s3, "results", "run-1", folder)
    assert keys == sorted(f"models/run-1/model/{n}" for n in FILES)
    back = download(s3, "results", "run-1", tmp_path / "back")
    assert {p.name: p.read_bytes() for p in back.iterdir()} == {
        n: f"content of {n}".encode() for n in FILES}
    with pytest.raises(FileNotFoundError, match="the training task did not finish"):
        download(s3, "results", "run-2", tmp_path / "none")


def test_train_mode_refuses_bad_input_with_exit_2() -> None:
    from tradai.strategy_container.train import EXIT_BAD_INPUT, main

    good = {"TRADAI_JOB_ID": "r", "TRADAI_TRAIN_PAIR": "BTC/USDT", "TRADAI_TRAIN_TIMEFRAME": "5m",
            "TRADAI_TRAIN_START_MS": "1000", "TRADAI_TRAIN_END_MS": "2000",
            "TRADAI_BUCKET_RESULTS": "results"}
    assert main({k: v for k, v in good.items() if k != "TRADAI_TRAIN_PAIR"}) == EXIT_BAD_INPUT
    assert main({**good, "TRADAI_TRAIN_START_MS": "soon"}) == EXIT_BAD_INPUT
    assert main({**good, "TRADAI_TRAIN_START_MS": "3000"}) == EXIT_BAD_INPUT


def test_one_run_per_strategy_at_a_time_and_a_dead_executions_run_is_failed(
        aws: dict[str, Any]):
    from tradai.retraining.requests import DriftTable

    class Executions:
        status = "RUNNING"

        def describe_execution(self, executionArn: str) -> dict[str, Any]:
            return {"executionArn": executionArn, "status": self.status}

    registry = FakeRegistry()
    registry.add(version("S", 3), champion=True)
    runs, clock, sfn = RunStore(aws["ddb"], RUNS), FakeClock(), Executions()
    queue = RunQueue(runs, aws["sqs"], aws["url"], clock)
    first, _ = queue.request("S", iso(NOW), "operator", "first", champion=3)
    runs.update("S", iso(NOW), NOW, state=RUNNING, execution_arn="arn:exec:first")
    queue.request("S", iso(NOW + 60), "operator", "second", champion=3)
    check = CheckRetraining(registry, DriftTable(aws["ddb"], DRIFT), runs, clock, _settings(),
                            sfn)
    skipped = check.check({"model_name": "S", "requested_at": iso(NOW + 60)})
    assert skipped["needed"] is False and first["run_id"] in skipped["reason"]
    assert runs.get("S", iso(NOW + 60))["state"] == SKIPPED
    queue.request("S", iso(NOW + 120), "operator", "third", champion=3)
    sfn.status = "TIMED_OUT"  # the first run's execution died without its failure path
    assert check.check({"model_name": "S", "requested_at": iso(NOW + 120)})["needed"] is True
    dead = runs.get("S", iso(NOW))
    assert dead["state"] == FAILED and "ended TIMED_OUT" in dead["reason"]
    assert runs.get("S", iso(NOW + 120))["state"] == RUNNING


# -- the handlers: thin wiring over the domain ------------------------------------------------
@dataclass
class LambdaContext:
    function_name: str = "tradai-test-fn"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tradai-test-fn"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def wired(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    """The handlers' shared clients: this test's tables and queue, a fake registry."""
    import tradai.retraining.wiring as wiring

    for k, v in {"TRADAI_TABLE_RETRAINING_STATE": RUNS, "TRADAI_TABLE_DRIFT_STATE": DRIFT,
                 "TRADAI_TABLE_REGISTRY_AUDIT": AUDIT, "TRADAI_ENV": "test",
                 "TRADAI_QUEUE_RETRAINING_QUEUE": aws["url"]}.items():
        monkeypatch.setenv(k, v)
    registry = FakeRegistry()
    registry.add(version("S", 1), champion=True)
    registry.add(version("S", 2))
    wiring.settings.cache_clear()
    wiring.runs.cache_clear()
    monkeypatch.setattr(wiring, "registry", lambda: registry)
    monkeypatch.setattr(wiring, "clock", lambda: FakeClock())
    monkeypatch.setattr(wiring, "promotion", lambda: Promotion(
        FreshRegistry(registry), AuditLog(aws["ddb"], AUDIT, FakeClock())))  # type: ignore[arg-type]
    yield registry
    wiring.settings.cache_clear()
    wiring.runs.cache_clear()


def test_the_scheduler_check_promote_and_rollback_handlers_wire_the_domain(
        aws: dict[str, Any], wired: FakeRegistry) -> None:
    from tradai.lambdas import (
        check_retraining_needed,
        compare_models,
        model_rollback,
        promote_model,
        retraining_scheduler,
    )

    _drifting(aws, "S", 1)
    report = retraining_scheduler.handler({}, LambdaContext())
    assert report["queued"] == ["S"] and not report["errors"]
    [message] = _messages(aws)
    keys = {k: message[k] for k in ("run_id", "model_name", "requested_at")}
    RunStore(aws["ddb"], RUNS).update("S", keys["requested_at"], NOW, execution_arn="arn:x")
    plan = check_retraining_needed.handler({**keys, "trigger": "drift"}, LambdaContext())
    assert plan["needed"] and plan["champion_version"] == 1 and plan["pairs"] == ["BTC/USDT"]
    with pytest.raises(ValueError, match="action must be one of submit, poll, decide"):
        compare_models.handler({**keys, "action": "guess"}, LambdaContext())
    RunStore(aws["ddb"], RUNS).update("S", keys["requested_at"], NOW, challenger_version=2)
    promoted = promote_model.handler({**keys, "reason": "better"}, LambdaContext())
    assert promoted["promoted"] == 2 and wired.aliases["S"]["champion"] == 2
    back = model_rollback.handler({"strategy": "S", "reason": "worse live", "actor": "olga"},
                                  LambdaContext())
    assert back["status"] == "rolled-back" and wired.aliases["S"]["champion"] == 1
    again = model_rollback.handler({"strategy": "S", "reason": "again", "actor": "olga"},
                                   LambdaContext())
    assert again["status"] == "refused" and again["code"] == 409


def test_update_status_records_a_failed_retraining_run(aws: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tradai.lambdas import update_status

    monkeypatch.setenv("TRADAI_TABLE_RETRAINING_STATE", RUNS)
    runs, keys = _running_run(aws, 0.0)
    cause = json.dumps({"errorType": "NoModel", "errorMessage": "S v1 has no model"})
    out = update_status.handler({**keys, "job_id": keys["run_id"], "kind": "retraining",
                                 "status": "FAILED", "failed_stage": "check",
                                 "error": {"Error": "NoModel", "Cause": cause}},
                                LambdaContext())
    assert out["state"] == FAILED
    assert runs.get("S", iso(NOW))["reason"] == "the retraining check failed: S v1 has no model"
