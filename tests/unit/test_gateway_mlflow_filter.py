"""The gateway's /mlflow route is MLflow's own and read-only: the decision (method x path) and
the gateway app around it (no JWT authorizer, as the deployed HTTP API's MLflow routes have
none; the caller's basic login reaches MLflow unchanged; 403 body; the rate limit keyed on the
caller's address; nothing forwarded when refused)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from tests.http_stub import Reply, Server, http_server
from tests.unit.test_backend_fixtures import CLIENT, ISSUER, jwks_of, rsa_key, token
from tests.unit.test_gateway_edge import FakeClock, call, run, with_pool
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
@pytest.fixture
def up() -> Iterator[Server]:
    """MLflow behind the ALB: answers every request with its path."""
    with http_server(lambda seen: Reply(200, body=json.dumps({"path": seen.path}).encode())
                     ) as server:
        yield server


def gateway(upstream_url: str, limit: int = 100, reads: list[str] | None = None) -> Gateway:
    cfg = GatewayConfig(port=0, upstream=upstream_url, region="eu-central-1",
                        user_pool_id="pool", client_id=CLIENT, rate_limit_requests=limit,
                        mlflow_read_only_posts=sorted(READS) if reads is None else reads)
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")))
    return with_pool(Gateway(cfg, clock=FakeClock(), verifier=verifier))


BASIC = "Basic " + base64.b64encode(b"operator@tradai.local:pw").decode()


def test_a_write_is_403_with_the_route_to_use_and_never_forwarded(up: Server) -> None:
    resp = run(call(gateway(up.url).app, "POST", "/mlflow" + ALIAS, token(KEY),
                    json={"name": "EmaCrossover", "alias": "champion", "version": "1"}))
    assert resp.status_code == 403
    body = resp.json()
    assert body["message"] == mlflow_write_refusal(ALIAS)
    assert "/api/v1/strategies" in body["message"] and ALIAS in body["reason"]
    assert resp.headers["content-type"] == "application/json"
    assert up.seen == []


def test_a_search_post_and_a_get_go_to_mlflow_with_the_callers_basic_login(up: Server) -> None:
    """No JWT needed, none checked: MLflow judges the basic login it receives unchanged."""
    gw = gateway(up.url)
    assert run(call(gw.app, "POST", "/mlflow" + SEARCH_RUNS, headers={"Authorization": BASIC},
                    json={"experiment_ids": ["0"]})).status_code == 200
    assert run(call(gw.app, "GET", "/mlflow/#/experiments/0/runs/abc",
                    headers={"Authorization": BASIC})).status_code == 200
    assert [r.path for r in up.seen] == ["/mlflow" + SEARCH_RUNS, "/mlflow/"]
    assert {r.headers["authorization"] for r in up.seen} == {BASIC}


def test_without_a_login_mlflow_is_asked_and_its_challenge_reaches_the_browser() -> None:
    challenge = Reply(401, [("WWW-Authenticate", 'Basic realm="mlflow"')])
    with http_server(lambda seen: challenge) as mlflow:
        resp = run(call(gateway(mlflow.url).app, "GET", "/mlflow/"))
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Basic realm="mlflow"'


def test_a_bearer_token_is_not_swapped_for_a_login(up: Server) -> None:
    """On AWS a Cognito token sent to MLflow's route reaches MLflow, which refuses it (401);
    the gateway holds no MLflow login of its own to put in its place."""
    run(call(gateway(up.url).app, "GET", "/mlflow/api/2.0/mlflow/experiments/search", token(KEY)))
    assert up.seen[0].headers["authorization"] == f"Bearer {token(KEY)}"


def test_api_routes_still_need_the_jwt(up: Server) -> None:
    assert run(call(gateway(up.url).app, "GET", "/api/v1/strategies",
                    headers={"Authorization": BASIC})).status_code == 401
    assert up.seen == []


def test_the_default_config_refuses_even_searches(up: Server) -> None:
    assert GatewayConfig(port=0, upstream="u", region="r", user_pool_id="p",
                         client_id="c").mlflow_read_only_posts == []
    resp = run(call(gateway(up.url, reads=[]).app, "POST", "/mlflow" + SEARCH_RUNS, token(KEY)))
    assert resp.status_code == 403 and up.seen == []


def test_the_refusal_counts_against_the_callers_address(up: Server) -> None:
    gw = gateway(up.url, limit=2)
    assert run(call(gw.app, "POST", "/mlflow" + ALIAS)).status_code == 403
    assert run(call(gw.app, "GET", "/mlflow/")).status_code == 200
    # the refused write counted against this address's quota, whatever the login
    assert run(call(gw.app, "GET", "/mlflow/", headers={"Authorization": BASIC})
               ).status_code == 429
    assert [r.path for r in up.seen] == ["/mlflow/"]
