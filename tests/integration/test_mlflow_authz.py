"""MLflow is read-only through the gateway, and nobody but the services holds its admin login:
searches pass, registry writes get 403 naming the platform route (and change nothing), the
read-only MLflow login (tradai-reader) cannot move an alias even when used directly,
and an operator's MLflow login (from the mlflow-users secret) works on the ALB's /mlflow
without being an admin."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.test_edge_gateway import Edge
from tests.integration.test_mlflow_registry import mlflow_url, seeded  # noqa: F401
from tradai.registry import credentials
from tradai_sim.cli import cli
from tradai_sim.stack.state import StackRecord

pytestmark = pytest.mark.integration
API = "/api/2.0/mlflow"
OPERATOR = "operator@tradai.local"
STRATEGY = "EmaCrossover"


def secret(cloud: RunningCloud, logical: str) -> dict[str, Any]:
    value = cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name(logical))["SecretString"]
    return dict(json.loads(value))


def login(cloud: RunningCloud, username: str) -> tuple[str, str]:
    return username, secret(cloud, credentials.USERS_SECRET)["users"][username]


def admin(cloud: RunningCloud) -> tuple[str, str]:
    creds = secret(cloud, credentials.AUTH_SECRET)
    return creds["username"], creds["password"]


class Mlflow:
    """MLflow three ways: through the gateway and on the ALB's /mlflow (both with an MLflow
    basic login: the deployed API's MLflow routes have no JWT authorizer), and on the task
    itself as the admin (to read what really is in the registry)."""

    def __init__(self, cloud: RunningCloud, task_url: str) -> None:
        self.cloud, self.task_url = cloud, task_url
        edge = Edge(cloud)
        self.gateway, self.alb = edge.gateway, edge.alb
        self.login = login(cloud, OPERATOR)

    def via_gateway(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, f"{self.gateway}/mlflow{path}", json=body, timeout=30,
                             auth=self.login)

    def via_alb(self, method: str, path: str, auth: tuple[str, str], body: Any = None,
                params: dict[str, str] | None = None) -> httpx.Response:
        return httpx.request(method, f"{self.alb}/mlflow{path}", json=body, auth=auth,
                             params=params, timeout=30)

    def aliases(self) -> dict[str, str]:
        """The strategy's aliases as the admin sees them on the task."""
        resp = httpx.get(f"{self.task_url}{API}/registered-models/get", timeout=30,
                         params={"name": STRATEGY}, auth=admin(self.cloud))
        assert resp.status_code == 200, resp.text
        model = resp.json()["registered_model"]
        return {a["alias"]: a["version"] for a in model.get("aliases", [])}

    def model_exists(self, name: str) -> bool:
        resp = httpx.get(f"{self.task_url}{API}/registered-models/get", timeout=30,
                         params={"name": name}, auth=admin(self.cloud))
        assert resp.status_code in (200, 404), resp.text
        return resp.status_code == 200


@pytest.fixture(scope="module")
def mlflow(cloud: RunningCloud, mlflow_url: str,  # noqa: F811
           seeded: dict[str, Any]) -> Mlflow:  # noqa: F811
    m = Mlflow(cloud, mlflow_url)
    # The service creates its users once MLflow answers; the ALB marks the task healthy
    # on its own schedule. Both are events to wait for, not to sleep through.
    wait_for(lambda: m.via_alb("GET", "/api/2.0/mlflow/users/current",
                               login(cloud, credentials.READER_USERNAME)).status_code == 200,
             timeout=120, interval=0.5)
    return m


def test_searches_through_the_gateway_answer(mlflow: Mlflow) -> None:
    runs = mlflow.via_gateway("POST", f"{API}/runs/search", {"experiment_ids": ["0"]})
    assert runs.status_code == 200, runs.text
    models = mlflow.via_gateway("GET", f"{API}/registered-models/search")
    assert models.status_code == 200, models.text
    assert STRATEGY in {m["name"] for m in models.json()["registered_models"]}


def test_registry_writes_through_the_gateway_are_403_and_change_nothing(
        mlflow: Mlflow) -> None:
    before = mlflow.aliases()
    assert before, f"{STRATEGY} was seeded with an alias"
    version = max(before.values(), key=int)
    probe = f"gw-{uuid.uuid4().hex[:8]}"
    name = f"GatewayWrite{uuid.uuid4().hex[:8]}"
    create = mlflow.via_gateway("POST", f"{API}/registered-models/create", {"name": name})
    moves = [mlflow.via_gateway("POST", f"{API}/registered-models/alias",
                                {"name": STRATEGY, "alias": alias, "version": version})
             for alias in (*before, probe)]
    for resp in (create, *moves):
        assert resp.status_code == 403, resp.text
        assert "/api/v1/strategies" in resp.json()["message"], resp.text
    assert "/aliases/" in moves[0].json()["message"]
    assert not mlflow.model_exists(name)
    assert mlflow.aliases() == before  # no alias moved, none added


def _runner(cloud: RunningCloud) -> tuple[str, str]:
    creds = secret(cloud, credentials.RUNNER_SECRET)
    return creds["username"], creds["password"]


@pytest.mark.parametrize("who", ["reader", "runner"])
def test_the_reader_itself_cannot_move_an_alias(mlflow: Mlflow, who: str) -> None:
    """Neither the gateway's identity nor the strategy tasks' login (which strategy code can
    read) can write the registry, even straight against MLflow."""
    reader = (login(mlflow.cloud, credentials.READER_USERNAME) if who == "reader"
              else _runner(mlflow.cloud))
    before = mlflow.aliases()
    me = mlflow.via_alb("GET", f"{API}/users/current", reader)
    assert me.status_code == 200 and me.json()["user"]["is_admin"] is False
    probe = f"reader-{uuid.uuid4().hex[:8]}"
    for alias in (*before, probe):
        resp = mlflow.via_alb("POST", f"{API}/registered-models/alias", reader,
                              {"name": STRATEGY, "alias": alias,
                               "version": max(before.values(), key=int)})
        assert resp.status_code == 403 and "Permission denied" in resp.text, resp.text
    assert mlflow.aliases() == before


def test_the_operator_has_an_own_login_on_the_alb_that_is_not_an_admin(
        mlflow: Mlflow) -> None:
    operator = login(mlflow.cloud, OPERATOR)
    assert operator != admin(mlflow.cloud)
    me = mlflow.via_alb("GET", f"{API}/users/current", operator)
    assert me.status_code == 200, me.text
    assert (me.json()["user"]["username"], me.json()["user"]["is_admin"]) == (OPERATOR, False)
    models = mlflow.via_alb("GET", f"{API}/registered-models/search", operator)
    assert models.status_code == 200 and models.json()["registered_models"]
    # an admin-only call: another user's details
    other = mlflow.via_alb("GET", f"{API}/users/get", operator,
                           params={"username": admin(mlflow.cloud)[0]})
    assert other.status_code == 403, other.text
    assert mlflow.via_alb("GET", "/", operator).status_code == 200  # the UI
    assert mlflow.via_alb("GET", f"{API}/users/current", (OPERATOR, "wrong-password-1")
                          ).status_code == 401


def test_mlflow_login_prints_the_operators_own_login(mlflow: Mlflow, tmp_path: Path) -> None:
    cloud = mlflow.cloud
    assert cloud.proc is not None
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(cloud.state_dir / "cloud.json", state / "cloud.json")
    StackRecord(cloud.proc.pid, int(cloud.endpoint.rsplit(":", 1)[1]), cloud.endpoint,
                cloud.time_scale, time.time()).write(state)
    out = CliRunner().invoke(cli, ["mlflow-login", "--state-dir", str(state)])
    assert out.exit_code == 0, out.output
    lines = dict(line.split(None, 1) for line in out.output.splitlines())
    assert lines == {"url": f"{mlflow.gateway}/mlflow/", "username": OPERATOR,
                     "password": login(cloud, OPERATOR)[1]}
    assert admin(cloud)[1] not in out.output
    missing = CliRunner().invoke(cli, ["mlflow-login", "--user", admin(cloud)[0],
                                       "--state-dir", str(state)])
    assert missing.exit_code == 1  # the admin is not in mlflow-users: never printed


def test_the_gateway_holds_no_mlflow_login(mlflow: Mlflow) -> None:
    """The gateway passes the caller's login through; it has none of its own, so no MLflow
    password is in its config or log, and a Cognito token gets MLflow's own 401."""
    cloud = mlflow.cloud
    config = (cloud.state_dir / "edge" / "gateway.json").read_text()
    log = (cloud.state_dir / "logs" / "gateway.log").read_text(errors="replace")
    for password in (admin(cloud)[1], login(cloud, credentials.READER_USERNAME)[1],
                     mlflow.login[1]):
        assert password not in config + log
    assert not any("mlflow_users" in k or "reader" in k for k in json.loads(config))
    token = Edge(cloud).user()["access"]
    resp = httpx.get(f"{mlflow.gateway}/mlflow{API}/registered-models/search", timeout=30,
                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text


def test_strategy_tasks_log_in_with_the_runner_login_not_the_admin(cloud: RunningCloud) -> None:
    td = cloud.client("ecs").describe_task_definition(
        taskDefinition=cloud.name("strategy"))["taskDefinition"]
    env = {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
    # Handed in by ECS from the runner's secret (read by the execution role), as on AWS.
    runner_arn = cloud.client("secretsmanager").describe_secret(
        SecretId=cloud.name(credentials.RUNNER_SECRET))["ARN"]
    assert td["containerDefinitions"][0]["secrets"] == [
        {"name": credentials.USERNAME_ENV, "valueFrom": f"{runner_arn}:username::"},
        {"name": credentials.PASSWORD_ENV, "valueFrom": f"{runner_arn}:password::"}]
    # As on AWS (tests/infra/test_deployability.py), it is told no login's secret: the admin's
    # used to reach every local component (tests/infra/test_env_parity.py).
    assert "TRADAI_MLFLOW_AUTH_SECRET" not in env
    assert _runner(cloud)[0] == credentials.RUNNER_USERNAME
    assert not any(admin(cloud)[1] in v for v in env.values())
