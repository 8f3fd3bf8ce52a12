"""Trading sessions in process (moto's mock_aws, a fake registry): start creates the session
item, its own task definition revision (the strategy definition plus exactly three variables)
and a one-task ECS service on FARGATE_SPOT (dry-run) or FARGATE (live); list and show read
the container's heartbeat beside the API's attributes; stop scales to 0, deletes the service
and deregisters the revision; every refusal leaves nothing behind.

AWS behaviour followed:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
(capacityProviderStrategy without launchType; desiredCount),
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html
(scale to 0 before deleting), https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
API_DeregisterTaskDefinition.html, https://docs.aws.amazon.com/amazondynamodb/latest/
developerguide/Expressions.ConditionExpressions.html (the race-safe claim)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tests.unit.test_backend_fixtures import FakeRegistry
from tradai.backtests.service import Owner
from tradai.trading import records as R
from tradai.trading.errors import (
    InvalidSession,
    SessionConflict,
    SessionNotFound,
    TradingUnavailable,
)
from tradai.trading.models import SessionRequest
from tradai.trading.sessions import TradingSessions
from tradai.trading.settings import TradingSettings

REGION = "eu-central-1"
ALICE, BOB = Owner(id="alice"), Owner(id="bob")
BASE_ENV = [{"name": "TRADAI_ENV", "value": "test"}, {"name": "TRADAI_TASK_MODES",
                                                      "value": "backtest,dry-run,live"}]


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def now(self) -> float:
        return self.t

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=UTC)


@dataclass
class Env:
    sessions: TradingSessions
    settings: TradingSettings
    ddb: Any
    ecs: Any
    sm: Any
    clock: Clock
    registry: FakeRegistry
    create_calls: list[dict[str, Any]] = field(default_factory=list)

    def start(self, owner: Owner = ALICE, **body: Any) -> Any:
        req = SessionRequest(**{"strategy": "SmaCross", "alias": "champion",
                                "mode": "dry-run", **body})
        return self.sessions.start(req, owner, self.registry)

    def item(self, sid: str) -> dict[str, Any] | None:
        return self.sessions._get(sid)

    def families(self) -> list[str]:
        """ACTIVE session revisions (moto ignores familyPrefix: filtered here)."""
        arns = self.ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
        return [a for a in arns if f"/{self.settings.session_prefix}" in a]

    def services(self) -> list[dict[str, Any]]:
        arns = self.ecs.list_services(cluster=self.settings.cluster)["serviceArns"]
        if not arns:
            return []
        return [s for s in self.ecs.describe_services(cluster=self.settings.cluster,
                                                      services=arns)["services"]
                if s["status"] == "ACTIVE"]


def _network() -> tuple[list[str], str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]
    sg = ec2.create_security_group(GroupName="strategy-tasks", Description="x",
                                   VpcId=vpc)["GroupId"]
    return subnets, sg


def create_trading_aws() -> TradingSettings:
    """Inside mock_aws: the network, table, cluster, strategy task definition and exchange
    secret a deployment has; the settings that name them."""
    subnets, sg = _network()
    settings = TradingSettings(TRADAI_PROJECT="tradai", TRADAI_ENV="test",
                               TRADAI_PRIVATE_SUBNETS=json.dumps(subnets),
                               TRADAI_STRATEGY_SECURITY_GROUPS=sg)
    create_spec_table(boto3.client("dynamodb", region_name=REGION), "trading-heartbeats",
                      settings.table)
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName=settings.cluster, capacityProviders=["FARGATE",
                                                                        "FARGATE_SPOT"])
    ecs.register_task_definition(
        family=settings.strategy_family, networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
        taskRoleArn="arn:aws:iam::123456789012:role/tradai-test-strategy-task",
        executionRoleArn="arn:aws:iam::123456789012:role/tradai-test-ecs-execution",
        containerDefinitions=[{"name": "strategy", "image": "tradai/strategy:local",
                               "essential": True, "cpu": 1024, "memory": 2048,
                               "command": ["python", "-m", "tradai.strategy_container"],
                               "environment": BASE_ENV}])
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=settings.secret, SecretString=json.dumps({"api_key": "K-very-secret",
                                                       "api_secret": "S-very-secret"}))
    return settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        settings = create_trading_aws()
        ddb = boto3.client("dynamodb", region_name=REGION)
        ecs = boto3.client("ecs", region_name=REGION)
        sm = boto3.client("secretsmanager", region_name=REGION)
        clock = Clock()
        registry = FakeRegistry()
        e = Env(TradingSessions(ddb, ecs, sm, None, clock, settings), settings, ddb, ecs,
                sm, clock, registry)

        def record(params: dict[str, Any], **_: Any) -> None:
            e.create_calls.append(dict(params))
        ecs.meta.events.register("provide-client-params.ecs.CreateService", record)
        yield e


def test_dry_run_session_is_one_spot_task_with_three_variables_added(env: Env) -> None:
    started = env.start()
    sid = "smacross-dry-run"
    assert started.session_id == sid and started.status == R.STARTING
    assert started.capacity_provider == "FARGATE_SPOT"
    [call] = env.create_calls
    assert call["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT",
                                                 "weight": 1}]
    assert "launchType" not in call and call["desiredCount"] == 1
    net = call["networkConfiguration"]["awsvpcConfiguration"]
    assert net["subnets"] == env.settings.subnets
    assert net["securityGroups"] == env.settings.security_groups
    assert net["assignPublicIp"] == "DISABLED"
    [svc] = env.services()
    assert svc["serviceName"] == f"tradai-test-session-{sid}" and svc["desiredCount"] == 1
    td = env.ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])[
        "taskDefinition"]
    base = env.ecs.describe_task_definition(taskDefinition=env.settings.strategy_family)[
        "taskDefinition"]
    assert td["family"] == f"tradai-test-session-{sid}"
    for key in ("taskRoleArn", "executionRoleArn", "cpu", "memory", "networkMode"):
        assert td[key] == base[key], key
    container, original = td["containerDefinitions"][0], base["containerDefinitions"][0]
    assert container["image"] == original["image"]
    assert container["command"] == original["command"]
    env_of = {e["name"]: e["value"] for e in container["environment"]}
    base_env = {e["name"]: e["value"] for e in original["environment"]}
    added = {k: v for k, v in env_of.items() if k not in base_env}
    assert added == {"STRATEGY_NAME": "SmaCross", "STRATEGY_STAGE": "champion",
                     "TRADING_MODE": "dry-run"}
    assert {k: env_of[k] for k in base_env} == base_env
    item = env.item(sid)
    assert item is not None
    assert item["owner"] == "alice" and item["ref"] == "champion" and item["mode"] == "dry-run"
    assert item["service_arn"] == svc["serviceArn"]
    assert item["task_definition_arn"] == td["taskDefinitionArn"]
    assert set(item) <= set(R.SESSION_ATTRIBUTES)  # the API writes only its own


def test_live_session_runs_on_demand_with_a_pinned_version(env: Env) -> None:
    started = env.start(alias=None, version=1, mode="live")
    assert started.session_id == "smacross-live" and started.capacity_provider == "FARGATE"
    [call] = env.create_calls
    assert call["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    td = env.ecs.describe_task_definition(taskDefinition=env.services()[0]["taskDefinition"])
    env_of = {e["name"]: e["value"] for e in
              td["taskDefinition"]["containerDefinitions"][0]["environment"]}
    assert env_of["STRATEGY_STAGE"] == "1" and env_of["TRADING_MODE"] == "live"


def _nothing_created(env: Env) -> None:
    assert env.families() == [] and env.services() == [] and env.create_calls == []
    assert env.ddb.scan(TableName=env.settings.table)["Count"] == 0


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"strategy": "Nope"}, "strategy", "unknown strategy 'Nope'"),
    ({"alias": "production"}, "alias", "has no alias 'production'"),
    ({"alias": None, "version": 9}, "version", "has no version 9"),
])
def test_unknown_strategy_alias_or_version_starts_nothing(env: Env, body: dict[str, Any],
                                                          field: str, words: str) -> None:
    with pytest.raises(InvalidSession) as refused:
        env.start(**body)
    assert refused.value.field == field and words in refused.value.reason
    _nothing_created(env)


@pytest.mark.parametrize("secret", [
    None,  # no secret at all
    {"api_key": "", "api_secret": "S"},
    {"api_key": "K"},
    "not json",
])
def test_live_without_exchange_keys_starts_nothing(env: Env, secret: Any) -> None:
    if secret is None:
        env.sm.delete_secret(SecretId=env.settings.secret, ForceDeleteWithoutRecovery=True)
    else:
        env.sm.put_secret_value(SecretId=env.settings.secret, SecretString=secret
                                if isinstance(secret, str) else json.dumps(secret))
    with pytest.raises(InvalidSession) as refused:
        env.start(mode="live")
    reason = refused.value.reason
    assert f"live trading needs exchange API keys in secret {env.settings.secret}" in reason
    assert "S-very-secret" not in reason and "K" not in reason.replace("API keys", "")
    _nothing_created(env)
    env.start(mode="dry-run")  # dry-run needs no keys


def test_second_session_for_strategy_and_mode_is_409_and_starts_nothing(env: Env) -> None:
    env.start()
    with pytest.raises(SessionConflict) as refused:
        env.start(owner=BOB, alias=None, version=1)
    assert "smacross-dry-run" in refused.value.reason and "STARTING" in refused.value.reason
    assert len(env.families()) == 1 and len(env.services()) == 1
    env.start(mode="live")  # another mode is another session
    assert len(env.services()) == 2


def test_concurrent_starts_claim_once(env: Env) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            env.start()
            outcomes.append("started")
        except SessionConflict:
            outcomes.append("409")
    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "409", "409", "started"]
    assert len(env.services()) == 1 and len(env.families()) == 1


def _heartbeat(env: Env, sid: str, at: float, **extra: Any) -> None:
    """What the strategy container writes (its own attributes, UpdateItem)."""
    values = {"last_heartbeat": at, "version": 2, "open_trades": 1, "profit_abs": 1.5,
              "profit_pct": 0.15, "last_candle": "2027-01-15T08:00:00+00:00",
              "recent_trades": [{"pair": "BTC/USDT", "open_rate": 100.5, "is_open": True}],
              **extra}
    from decimal import Decimal

    from boto3.dynamodb.types import TypeSerializer
    plain = json.loads(json.dumps(values), parse_float=Decimal)
    ser = {k: TypeSerializer().serialize(v) for k, v in plain.items()}
    env.ddb.update_item(TableName=env.settings.table, Key={"strategy_id": {"S": sid}},
                        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in ser),
                        ExpressionAttributeNames={f"#{k}": k for k in ser},
                        ExpressionAttributeValues={f":{k}": v for k, v in ser.items()})


def test_list_shows_own_sessions_with_heartbeat_and_age(env: Env) -> None:
    env.start()
    env.clock.t += 10
    env.start(owner=BOB, strategy="RsiMeanRevert")
    _heartbeat(env, "smacross-dry-run", env.clock.t - 5)
    env.clock.t += 40
    [mine] = env.sessions.list_sessions(ALICE)
    assert mine.session_id == "smacross-dry-run" and mine.status == R.RUNNING
    assert mine.version == 2 and mine.open_trades == 1 and mine.profit_abs == 1.5
    assert mine.heartbeat_age_seconds == 45.0
    assert [s.session_id for s in env.sessions.list_sessions(BOB)] == ["rsimeanrevert-dry-run"]
    assert env.sessions.list_sessions(BOB)[0].status == R.STARTING


def test_list_queries_the_owner_index_and_never_scans(env: Env) -> None:
    """Listing reads the caller's sessions only: a Query on the spec's by-owner index, whose
    ScannedCount is theirs, however many sessions other users have."""
    env.start()
    for i in range(30):
        env.ddb.put_item(TableName=env.settings.table, Item={
            "strategy_id": {"S": f"other-{i}"}, "owner": {"S": "someone-else"},
            "status": {"S": R.STOPPED}})
    calls: list[tuple[str, dict[str, Any]]] = []
    for op in ("Query", "Scan"):
        env.ddb.meta.events.register(f"provide-client-params.dynamodb.{op}",
                                     lambda params, op=op, **_: calls.append((op, params)))
    read: list[int] = []
    env.ddb.meta.events.register("after-call.dynamodb.Query",
                                 lambda parsed, **_: read.append(parsed["ScannedCount"]))

    assert [s.session_id for s in env.sessions.list_sessions(ALICE)] == ["smacross-dry-run"]
    assert [(op, p.get("IndexName")) for op, p in calls] == [("Query", "by-owner")]
    assert read == [1]


def test_show_has_recent_trades_and_hides_others_sessions(env: Env) -> None:
    env.start()
    _heartbeat(env, "smacross-dry-run", env.clock.t)
    detail = env.sessions.show("smacross-dry-run", ALICE)
    assert detail.recent_trades == [{"pair": "BTC/USDT", "open_rate": 100.5, "is_open": True}]
    with pytest.raises(SessionNotFound):
        env.sessions.show("smacross-dry-run", BOB)
    with pytest.raises(SessionNotFound):
        env.sessions.show("nothing-dry-run", ALICE)


def test_stop_deletes_the_service_and_revision_and_keeps_others_attributes(env: Env) -> None:
    env.start()
    sid = "smacross-dry-run"
    _heartbeat(env, sid, env.clock.t)
    env.ddb.update_item(TableName=env.settings.table, Key={"strategy_id": {"S": sid}},
                        UpdateExpression="SET stale_since = :s",
                        ExpressionAttributeValues={":s": {"N": "123"}})  # the monitor's
    td_arn = env.item(sid)["task_definition_arn"]  # type: ignore[index]
    env.clock.t += 60
    stopped = env.sessions.stop(sid, ALICE)
    assert stopped.status == R.STOPPED and stopped.stopped_by == "alice"
    assert stopped.stopped_at == env.clock.t
    assert env.services() == []
    [svc] = env.ecs.describe_services(cluster=env.settings.cluster,
                                      services=[f"tradai-test-session-{sid}"])["services"]
    assert svc["status"] != "ACTIVE" and svc["desiredCount"] == 0
    assert env.ecs.describe_task_definition(taskDefinition=td_arn)["taskDefinition"][
        "status"] == "INACTIVE"
    item = env.item(sid)
    assert item is not None
    assert item["stale_since"] == 123 and item["open_trades"] == 1  # not overwritten
    with pytest.raises(SessionConflict, match="already stopped"):
        env.sessions.stop(sid, ALICE)


def test_stop_of_unknown_or_someone_elses_session_is_404_and_stops_nothing(env: Env) -> None:
    env.start()
    with pytest.raises(SessionNotFound):
        env.sessions.stop("smacross-dry-run", BOB)
    with pytest.raises(SessionNotFound):
        env.sessions.stop("nope-live", ALICE)
    assert len(env.services()) == 1
    assert env.item("smacross-dry-run")["status"] == R.STARTING  # type: ignore[index]


def test_a_stopped_session_id_may_be_started_again_fresh(env: Env) -> None:
    env.start()
    _heartbeat(env, "smacross-dry-run", env.clock.t)
    env.sessions.stop("smacross-dry-run", ALICE)
    env.clock.t += 5
    again = env.start(owner=BOB, alias=None, version=1)
    assert again.status == R.STARTING and again.last_heartbeat is None  # old heartbeat gone
    assert env.item("smacross-dry-run")["owner"] == "bob"  # type: ignore[index]
    assert len(env.services()) == 1 and len(env.families()) == 1


def test_ecs_failure_gives_the_claim_back(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    def refuse(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                          "CreateService")
    monkeypatch.setattr(env.ecs, "create_service", refuse)
    with pytest.raises(TradingUnavailable, match="AccessDeniedException"):
        env.start()
    assert env.item("smacross-dry-run") is None and env.families() == []


def test_unconfigured_network_is_503_and_starts_nothing(env: Env) -> None:
    env.sessions.deployment.settings = TradingSettings(TRADAI_ENV="test")
    with pytest.raises(TradingUnavailable, match="TRADAI_PRIVATE_SUBNETS"):
        env.start()
    assert env.item("smacross-dry-run") is None and env.families() == []
