"""Shared pieces of the backend unit tests: a fake registry, RSA keys and tokens, an app
wired to an in-process emulator (moto's mock_aws). No tests of its own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from moto import mock_aws

from tradai.authz import Authorizer, Principal
from tradai.registry.models import (
    StrategyDetail,
    StrategyNotFound,
    StrategySummary,
    StrategyVersion,
)
from tradai.services.backend_api.dependencies import get_principal, get_registry, get_settings
from tradai.services.backend_api.main import create_app
from tradai.services.backend_api.settings import BackendSettings

REGION = "eu-central-1"
POOL = "eu-central-1_TESTPOOL"
CLIENT = "test-client-id"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"
TABLE = "tradai-test-workflow-state"
AUDIT_TABLE = "tradai-test-registry-audit"


def version(name: str, number: int, aliases: list[str] | None = None) -> StrategyVersion:
    return StrategyVersion(name=name, version=number, aliases=aliases or [], timeframe="5m",
                           pairs=["BTC/USDT", "ETH/USDT"], warmup_days=10,
                           config_s3_path=f"s3://configs/{name}/{number}.json",
                           strategy_class=name)


class FakeRegistry:
    def __init__(self) -> None:
        self.versions = {"SmaCross": [version("SmaCross", 1), version("SmaCross", 2,
                                                                      ["champion"])],
                         "RsiMeanRevert": [version("RsiMeanRevert", 1, ["champion"])]}
        self.calls = 0

    def _detail(self, name: str) -> StrategyDetail:
        if name not in self.versions:
            raise StrategyNotFound(f"no strategy {name}")
        vs = self.versions[name]
        return StrategyDetail(name=name, latest_version=max(v.version for v in vs),
                              aliases={a: v.version for v in vs for a in v.aliases},
                              versions=vs)

    def list_strategies(self) -> list[StrategySummary]:
        return [StrategySummary(**self._detail(n).model_dump(exclude={"versions"}))
                for n in sorted(self.versions)]

    def get_strategy(self, name: str) -> StrategyDetail:
        self.calls += 1
        return self._detail(name)

    def fresh_strategy(self, name: str) -> StrategyDetail:
        return self._detail(name)

    def set_alias(self, name: str, alias: str, number: int) -> None:
        """MLflow's semantics: an alias names one version of a model at a time."""
        if number not in {v.version for v in self._detail(name).versions}:
            raise StrategyNotFound(f"{name} has no version {number}")
        self.versions[name] = [
            v.model_copy(update={"aliases": [a for a in v.aliases if a != alias]
                                 + ([alias] if v.version == number else [])})
            for v in self.versions[name]]

    def get_model_version(self, name: str, alias_or_version: str | int) -> StrategyVersion:
        self.calls += 1
        for v in self._detail(name).versions:
            if str(alias_or_version) in (str(v.version), *v.aliases):
                return v
        raise StrategyNotFound(f"{name} has no version or alias {alias_or_version}")


def create_aws() -> tuple[Any, Any, str]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("job_id", "owner", "created_at")],
        GlobalSecondaryIndexes=[{"IndexName": "by-owner", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"},
                                               {"AttributeName": "created_at",
                                                "KeyType": "RANGE"}]}])
    ddb.create_table(
        TableName=AUDIT_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "strategy", "KeyType": "HASH"},
                   {"AttributeName": "event_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in ("strategy", "event_id")])
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="tradai-test-backtest-queue.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    return ddb, sqs, url


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from tradai.settings import aws_settings
    aws_settings.cache_clear()
    with mock_aws():
        yield create_aws()
    aws_settings.cache_clear()


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


class Api:
    """A TestClient whose caller can be switched: ``api.as_owner("bob")``."""

    def __init__(self, client: TestClient, app: Any) -> None:
        self.client = client
        self.app = app
        self.as_owner("alice")

    def as_owner(self, sub: str, roles: tuple[str, ...] = ("researcher", "trader")) -> None:
        """The caller: token subject ``sub`` in these Cognito groups."""
        self.roles = roles
        self.app.dependency_overrides[get_principal] = lambda: principal(sub, roles)

    def roles_seen(self) -> tuple[str, ...]:
        """The roles the backend derives from the current caller's groups."""
        return tuple(self.app.dependency_overrides[get_principal]().roles)


def principal(sub: str, roles: tuple[str, ...] = ("researcher", "trader")) -> Principal:
    """A caller in these Cognito groups, as the backend derives it from a verified token."""
    return Authorizer().principal(sub, sub, {"cognito:groups": list(roles)})


@pytest.fixture
def api(aws: tuple[Any, Any, str], registry: FakeRegistry) -> Iterator[Api]:
    _, _, url = aws
    settings = BackendSettings(TRADAI_QUEUE_BACKTEST_QUEUE=url, TRADAI_TABLE_WORKFLOW_STATE=TABLE,
                               TRADAI_MLFLOW_URL="http://registry.invalid", max_pairs=5,
                               TRADAI_TABLE_REGISTRY_AUDIT=AUDIT_TABLE)
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: settings
    app.dependency_overrides[get_registry] = lambda: registry
    with TestClient(app) as client:
        yield Api(client, app)


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   AttributeNames=["All"]).get("Messages", [])
        if not msgs:
            return out
        out.extend(msgs)
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


# -- tokens signed by keys of our own ----------------------------------------------------------
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return {"keys": [jwk]}


def token(key: rsa.RSAPrivateKey, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "user-1", "client_id": CLIENT, "token_use": "access",
            "username": "user-1", "iat": now, "exp": now + 3600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})
