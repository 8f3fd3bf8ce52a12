"""The gateway's /mlflow route is read-only: the decision (method x path) and the gateway app
around it (403 body, order after JWT and rate limit, nothing forwarded, the reader's login
on what passes)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

from tests.unit.test_backend_fixtures import CLIENT, ISSUER, jwks_of, rsa_key, token
from tests.unit.test_gateway_edge import FakeClock, call, run
from tradai.authz import mlflow_write_refusal
from tradai.services.backend_api.auth import JwksCache, TokenVerifier
from tradai.topology import default_topology
from tradai_sim.edge.gateway import Gateway, GatewayConfig, mlflow_write

KEY = rsa_key()
READS = frozenset(default_topology().edge.mlflow_read_only_posts)
SEARCH_RUNS = "/api/2.0/mlflow/runs/search"
ALIAS = "/api/2.0/mlflow/registered-models/alias"
CREATE_MODEL = "/api/2.0/mlflow/registered-models/create"


# -- the decision ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
@pytest.mark.parametrize("path", [ALIAS, CREATE_MODEL, "/api/2.0/mlflow/registered-models/search",
                                  "/", "/static-files/app.js"])
def test_read_methods_pass_on_any_mlflow_path(method: str, path: str) -> None:
    assert mlflow_write(method, "/mlflow" + path, READS) is None


@pytest.mark.parametrize("path", sorted(READS))
def test_the_spec_searches_pass_as_post(path: str) -> None:
    assert mlflow_write("POST", "/mlflow" + path, READS) is None


@pytest.mark.parametrize(("method", "path"), [
    ("POST", ALIAS), ("DELETE", ALIAS), ("POST", CREATE_MODEL),
    ("POST", "/api/2.0/mlflow/model-versions/create"),
    ("PATCH", "/api/2.0/mlflow/registered-models/update"),
    ("POST", "/ajax-api/2.0/mlflow/registered-models/alias"),
    ("POST", "/api/2.0/mlflow/users/create"),
    ("POST", "/api/2.0/mlflow/runs/create"),
    # a listed search with another method is not a search
    ("PUT", SEARCH_RUNS), ("DELETE", SEARCH_RUNS), ("PATCH", SEARCH_RUNS),
    # only the exact path: no trailing slash, dot segment or case variant of a listed one
    ("POST", SEARCH_RUNS + "/"), ("POST", SEARCH_RUNS + "/../../registered-models/create"),
    ("POST", SEARCH_RUNS.upper()), ("POST", "/"),
])
def test_everything_else_is_a_write(method: str, path: str) -> None:
    assert mlflow_write(method, "/mlflow" + path, READS) == path


def test_mlflow_prefix_alone_and_other_routes() -> None:
    assert mlflow_write("POST", "/mlflow", READS) == "/"
    assert mlflow_write("POST", "/api/v1/strategies", READS) is None  # the backend decides
    assert mlflow_write("POST", "/mlflowx/api/2.0/mlflow/registered-models/create",
                        READS) is None  # not the /mlflow route (404 later)


def test_no_list_refuses_every_post() -> None:
    assert mlflow_write("POST", "/mlflow" + SEARCH_RUNS, frozenset()) == SEARCH_RUNS


def test_the_refusal_names_the_platform_route() -> None:
    assert "POST /api/v1/strategies/{name}/aliases/{alias}" in mlflow_write_refusal(ALIAS)
    assert "POST /api/v1/strategies (register" in mlflow_write_refusal(CREATE_MODEL)


# -- the gateway app -------------------------------------------------------------------------
class Upstream:
    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(200, json={"path": request.url.path})


def gateway(upstream: Upstream, limit: int = 100, reads: list[str] | None = None) -> Gateway:
    cfg = GatewayConfig(port=0, upstream="http://alb.test", region="eu-central-1",
                        user_pool_id="pool", client_id=CLIENT, rate_limit_requests=limit,
                        mlflow_read_only_posts=sorted(READS) if reads is None else reads)
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")))
    gw = Gateway(cfg, clock=FakeClock(), verifier=verifier)
    gw.client = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    gw.mlflow_authorization = "Basic cmVhZGVyOnB3"
    return gw


def test_a_write_is_403_with_the_route_to_use_and_never_forwarded() -> None:
    up = Upstream()
    resp = run(call(gateway(up).app, "POST", "/mlflow" + ALIAS, token(KEY),
                    json={"name": "EmaCrossover", "alias": "champion", "version": "1"}))
    assert resp.status_code == 403
    body = resp.json()
    assert body["message"] == mlflow_write_refusal(ALIAS)
    assert "/api/v1/strategies" in body["message"] and ALIAS in body["reason"]
    assert resp.headers["content-type"] == "application/json"
    assert up.seen == []


def test_a_search_post_and_a_get_are_forwarded_as_the_reader() -> None:
    up = Upstream()
    gw = gateway(up)
    assert run(call(gw.app, "POST", "/mlflow" + SEARCH_RUNS, token(KEY),
                    json={"experiment_ids": ["0"]})).status_code == 200
    assert run(call(gw.app, "GET", "/mlflow/api/2.0/mlflow/registered-models/search",
                    token(KEY))).status_code == 200
    assert [r.url.path for r in up.seen] == [
        "/mlflow" + SEARCH_RUNS, "/mlflow/api/2.0/mlflow/registered-models/search"]
    assert {r.headers["authorization"] for r in up.seen} == {"Basic cmVhZGVyOnB3"}


def test_the_default_config_refuses_even_searches() -> None:
    assert GatewayConfig(port=0, upstream="u", region="r", user_pool_id="p",
                         client_id="c").mlflow_read_only_posts == []
    up = Upstream()
    resp = run(call(gateway(up, reads=[]).app, "POST", "/mlflow" + SEARCH_RUNS, token(KEY)))
    assert resp.status_code == 403 and up.seen == []


def test_the_refusal_comes_after_the_jwt_check_and_the_rate_limit() -> None:
    up = Upstream()
    gw = gateway(up, limit=1)
    assert run(call(gw.app, "POST", "/mlflow" + ALIAS, None)).status_code == 401
    assert run(call(gw.app, "POST", "/mlflow" + ALIAS, token(KEY))).status_code == 403
    # the refused write counted against the caller's quota
    assert run(call(gw.app, "POST", "/mlflow" + ALIAS, token(KEY))).status_code == 429
    assert up.seen == []


# -- the reader's login at startup -----------------------------------------------------------
@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in (("AWS_DEFAULT_REGION", "eu-central-1"), ("AWS_ACCESS_KEY_ID", "testing"),
                       ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from tradai.settings import aws_settings
    aws_settings.cache_clear()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-central-1")
    aws_settings.cache_clear()


def startup(secret: str) -> Gateway:
    cfg = GatewayConfig(port=0, upstream="http://alb.test", region="eu-central-1",
                        user_pool_id="pool", client_id=CLIENT, mlflow_users_secret=secret)
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")))
    gw = Gateway(cfg, clock=FakeClock(), verifier=verifier)
    run(gw.startup())
    run(gw.shutdown())
    return gw


def test_startup_uses_the_readers_login_not_the_admins(aws: Any) -> None:
    aws.create_secret(Name="tradai-local-mlflow-basic-auth", SecretString=json.dumps(
        {"username": "admin", "password": "admin-password-123"}))
    aws.create_secret(Name="tradai-local-mlflow-users", SecretString=json.dumps({"users": {
        "operator@tradai.local": "operator-password", "tradai-reader": "reader-password"}}))
    gw = startup("tradai-local-mlflow-users")
    assert gw.mlflow_authorization == "Basic " + base64.b64encode(
        b"tradai-reader:reader-password").decode()


def test_without_the_users_secret_no_login_is_sent_at_all(aws: Any) -> None:
    aws.create_secret(Name="tradai-local-mlflow-basic-auth", SecretString=json.dumps(
        {"username": "admin", "password": "admin-password-123"}))
    assert startup("tradai-local-mlflow-users").mlflow_authorization is None
