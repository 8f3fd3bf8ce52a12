# ruff: noqa: F811  (pytest fixtures imported from test_backend_fixtures)
"""``/api/v1/trading/sessions`` in process: the real dependency wiring (boto3 clients built
from settings) over moto's mock_aws, a fake registry, a switchable caller. Status codes and
reasons of every refusal, and that nothing was started for one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.unit.test_backend_fixtures import (  # noqa: F401 (fixtures)
    Api,
    FakeRegistry,
    api,
    aws,
    registry,
)
from tests.unit.test_trading_sessions import REGION, create_trading_aws
from tradai.services.backend_api.dependencies import get_trading_settings
from tradai.trading.settings import TradingSettings

BASE = "/api/v1/trading/sessions"
DRY = {"strategy": "SmaCross", "alias": "champion", "mode": "dry-run"}


@pytest.fixture
def trading(api: Api, aws: Any) -> Iterator[TradingSettings]:
    settings = create_trading_aws()
    api.app.dependency_overrides[get_trading_settings] = lambda: settings
    yield settings


def services(settings: TradingSettings) -> list[str]:
    return boto3.client("ecs", region_name=REGION).list_services(
        cluster=settings.cluster)["serviceArns"]


def detail_of(resp: Any) -> tuple[list[Any], str]:
    d = resp.json()["detail"][0]
    return d["loc"], d["msg"]


def test_start_list_show_stop(api: Api, trading: TradingSettings) -> None:
    started = api.client.post(BASE, json=DRY)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["session_id"] == "smacross-dry-run" and body["status"] == "STARTING"
    assert body["capacity_provider"] == "FARGATE_SPOT" and body["ref"] == "champion"
    assert len(services(trading)) == 1
    listed = api.client.get(BASE).json()["sessions"]
    assert [s["session_id"] for s in listed] == ["smacross-dry-run"]
    assert listed[0]["heartbeat_age_seconds"] is None and listed[0]["version"] is None
    shown = api.client.get(f"{BASE}/smacross-dry-run").json()
    assert shown["recent_trades"] == [] and shown["task_definition_arn"].endswith(
        "tradai-test-session-smacross-dry-run:1")
    stopped = api.client.delete(f"{BASE}/smacross-dry-run")
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED"
    assert stopped.json()["stopped_by"] == "alice"
    assert api.client.get(BASE).json()["sessions"][0]["status"] == "STOPPED"


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"strategy": "Nope"}, "strategy", "unknown strategy"),
    ({"alias": "production"}, "alias", "no alias 'production'"),
    ({"alias": None, "version": 7}, "version", "no version 7"),
    ({"mode": "paper"}, "mode", "Input should be 'dry-run' or 'live'"),
    ({"alias": None}, None, "give the alias to follow or the version to run"),
    ({"version": 1}, None, "give the alias to follow or the version to run"),
    ({"strategy": "a b"}, "strategy", "String should match pattern"),
    ({"extra": 1}, "extra", "Extra inputs are not permitted"),
])
def test_bad_start_is_422_naming_the_field_and_starts_nothing(
        api: Api, trading: TradingSettings, body: dict[str, Any], field: str | None,
        words: str) -> None:
    payload = {k: v for k, v in {**DRY, **body}.items() if v is not None}
    resp = api.client.post(BASE, json=payload)
    assert resp.status_code == 422, resp.text
    loc, msg = detail_of(resp)
    if field:
        assert loc[-1] == field
    assert words in msg
    assert services(trading) == []


def test_live_without_keys_is_422_naming_the_secret(api: Api, trading: TradingSettings) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=trading.secret, SecretString='{"api_key": "", "api_secret": ""}')
    api.as_owner("alice", ("operator",))  # live sessions are the operator's
    resp = api.client.post(BASE, json={**DRY, "mode": "live"})
    assert resp.status_code == 422
    loc, msg = detail_of(resp)
    assert loc == ["body", "mode"]
    assert msg == (f"live trading needs exchange API keys in secret {trading.secret} "
                   "(api_key and api_secret)")
    assert services(trading) == []


def test_second_session_is_409_and_other_callers_see_404(api: Api,
                                                         trading: TradingSettings) -> None:
    assert api.client.post(BASE, json=DRY).status_code == 201
    again = api.client.post(BASE, json={**DRY, "alias": None, "version": 1})
    assert again.status_code == 409 and "smacross-dry-run" in again.json()["detail"]
    api.as_owner("bob")
    assert api.client.get(BASE).json() == {"sessions": []}
    for method in ("GET", "DELETE"):
        resp = api.client.request(method, f"{BASE}/smacross-dry-run")
        assert resp.status_code == 404 and "no trading session" in resp.json()["detail"]
    assert len(services(trading)) == 1
    api.as_owner("alice")
    assert api.client.delete(f"{BASE}/smacross-dry-run").status_code == 200
    twice = api.client.delete(f"{BASE}/smacross-dry-run")
    assert twice.status_code == 409 and "already stopped" in twice.json()["detail"]


def test_bad_session_id_is_422(api: Api, trading: TradingSettings) -> None:
    assert api.client.get(f"{BASE}/Not_An_Id").status_code == 422


def test_reads_and_stops_work_while_the_registry_is_down(api: Api, trading: TradingSettings,
                                                         registry: FakeRegistry,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    assert api.client.post(BASE, json=DRY).status_code == 201

    def down(*_: Any) -> Any:
        raise ConnectionError("mlflow down")
    monkeypatch.setattr(registry, "get_model_version", down)
    api.as_owner("alice", ("operator",))  # live sessions are the operator's
    refused = api.client.post(BASE, json={**DRY, "mode": "live"})
    assert refused.status_code == 503 and "registry unavailable" in refused.json()["detail"]
    assert api.client.get(BASE).status_code == 200
    assert api.client.delete(f"{BASE}/smacross-dry-run").status_code == 200


def test_no_token_is_401(aws: Any) -> None:
    from fastapi.testclient import TestClient

    from tradai.services.backend_api.auth import TokenVerifier
    from tradai.services.backend_api.dependencies import get_verifier
    from tradai.services.backend_api.main import create_app
    app = create_app()
    app.dependency_overrides[get_verifier] = lambda: TokenVerifier("iss", "c", None)  # type: ignore[arg-type]
    client = TestClient(app)
    for method, path in [("GET", BASE), ("POST", BASE), ("GET", f"{BASE}/x-dry-run"),
                         ("DELETE", f"{BASE}/x-dry-run")]:
        resp = client.request(method, path, json=DRY)
        assert resp.status_code == 401 and "no token" in resp.json()["detail"]
