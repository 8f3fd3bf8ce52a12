"""Trading sessions against the running local cloud, as a user through the gateway: a session
is an ECS service of one task created at run time, on FARGATE_SPOT for dry-run, whose task
runs the session's task definition (the strategy definition plus exactly STRATEGY_NAME,
STRATEGY_STAGE and TRADING_MODE); a task that dies is replaced; stopping leaves no service and
no running task; bad input is refused with a reason and starts nothing.

The strategy container's trading modes are written elsewhere: these tests assert on the
service, its tasks and their definitions, not on what the container does.

AWS behaviour followed:
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
(capacityProviderStrategy, launchType omitted), https://docs.aws.amazon.com/AmazonECS/latest/
APIReference/API_Task.html (capacityProviderName), https://docs.aws.amazon.com/AmazonECS/
latest/APIReference/API_DeleteService.html (desired 0, then delete; DRAINING, INACTIVE)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.test_edge_gateway import Edge
from tests.integration.test_mlflow_registry import mlflow_url  # noqa: F401 (fixture)
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore

pytestmark = pytest.mark.integration
ADDED = {"STRATEGY_NAME", "STRATEGY_STAGE", "TRADING_MODE"}


@pytest.fixture(scope="module")
def edge(cloud: RunningCloud) -> Edge:
    status = cloud.status()
    if "mlflow" in status["resources"]["not_implemented"]["services"]:
        pytest.skip("the MLflow service is not in this build")
    e = Edge(cloud)
    wait_for(lambda: e.healthy("backend-api"), timeout=90, interval=0.5)
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    return e


@pytest.fixture
def strategy(cloud: RunningCloud, edge: Edge, mlflow_url: str) -> str:  # noqa: F811
    """A strategy of this test's own (session ids are per strategy and mode), alias
    champion -> version 1."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    adapter = MLflowAdapter(mlflow_url, ConfigStore(cloud.client("s3"), cloud.name("configs")))
    name = f"Trade{uuid.uuid4().hex[:8]}"
    adapter.register_version(name, "EmaCrossover", {
        "strategy": "EmaCrossover", "timeframe": "5m", "stake_currency": "USDT",
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]}},
        warmup_days=1, aliases=["champion"])
    return name


def call(method: str, edge: Edge, token: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, edge.gateway + path, json=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}"})


def service_tasks(cloud: RunningCloud, service: str) -> list[dict[str, Any]]:
    return [t for t in cloud.control("/ecs/tasks")["tasks"]
            if t["group"] == f"service:{service}"]


def test_dry_run_session_is_a_spot_service_of_one_task(cloud: RunningCloud, edge: Edge,
                                                       strategy: str) -> None:
    token = edge.user()["access"]
    resp = call("POST", edge, token, "/api/v1/trading/sessions",
                {"strategy": strategy, "alias": "champion", "mode": "dry-run"})
    assert resp.status_code == 201, resp.text
    session = resp.json()
    sid = session["session_id"]
    assert sid == f"{strategy.lower()}-dry-run" and session["status"] == "STARTING"
    name = session["service_name"]
    assert name == cloud.name(f"session-{sid}")

    ecs = cloud.client("ecs")
    cluster = cloud.name("strategies")
    [svc] = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert svc["status"] == "ACTIVE" and svc["desiredCount"] == 1
    assert [(s["capacityProvider"], s["weight"]) for s in svc["capacityProviderStrategy"]] == [
        ("FARGATE_SPOT", 1)]
    assert not svc.get("launchType")

    first = wait_for(lambda: next(iter(service_tasks(cloud, name)), None), timeout=30)
    [task] = ecs.describe_tasks(cluster=cluster, tasks=[first["task_arn"]])["tasks"]
    assert task["capacityProviderName"] == "FARGATE_SPOT"
    assert task["taskDefinitionArn"] == svc["taskDefinition"]
    session_td = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
        "taskDefinition"]
    strategy_td = ecs.describe_task_definition(taskDefinition=cloud.name("strategy"))[
        "taskDefinition"]
    got = {e["name"]: e["value"] for e in session_td["containerDefinitions"][0]["environment"]}
    base = {e["name"]: e["value"] for e in strategy_td["containerDefinitions"][0]["environment"]}
    assert set(got) - set(base) == ADDED
    assert {k: got[k] for k in ADDED} == {"STRATEGY_NAME": strategy,
                                          "STRATEGY_STAGE": "champion",
                                          "TRADING_MODE": "dry-run"}
    assert {k: got[k] for k in base} == base
    assert session_td["containerDefinitions"][0]["command"] == \
        strategy_td["containerDefinitions"][0]["command"]

    # Listed for its owner only; shown with its (still empty) trades.
    listed = call("GET", edge, token, "/api/v1/trading/sessions").json()["sessions"]
    assert [s["session_id"] for s in listed] == [sid]
    shown = call("GET", edge, token, f"/api/v1/trading/sessions/{sid}").json()
    assert shown["recent_trades"] == [] and shown["mode"] == "dry-run"

    # A task that dies is replaced by the service.
    ecs.stop_task(cluster=cluster, task=first["task_arn"], reason="test: kill the bot")
    replacement = wait_for(lambda: next((t for t in service_tasks(cloud, name)
                                         if t["task_arn"] != first["task_arn"]), None),
                           timeout=60)
    assert replacement["task_arn"] != first["task_arn"]

    stopped = call("DELETE", edge, token, f"/api/v1/trading/sessions/{sid}")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "STOPPED"
    wait_for(lambda: all(t["last_status"] == "STOPPED" for t in service_tasks(cloud, name)),
             timeout=60)
    [gone] = ecs.describe_services(cluster=cluster, services=[name])["services"]
    assert gone["status"] != "ACTIVE" and gone["desiredCount"] == 0
    assert ecs.describe_task_definition(taskDefinition=session_td["taskDefinitionArn"])[
        "taskDefinition"]["status"] == "INACTIVE"


def test_bad_input_is_refused_with_a_reason_and_starts_nothing(cloud: RunningCloud,
                                                               edge: Edge,
                                                               strategy: str) -> None:
    token, other = edge.user()["access"], edge.user()["access"]
    base = "/api/v1/trading/sessions"
    unknown = call("POST", edge, token, base, {"strategy": f"{strategy}x", "alias": "champion",
                                               "mode": "dry-run"})
    assert unknown.status_code == 422 and "unknown strategy" in unknown.text
    no_alias = call("POST", edge, token, base, {"strategy": strategy, "alias": "nope",
                                                "mode": "dry-run"})
    assert no_alias.status_code == 422 and "no alias 'nope'" in no_alias.text
    bad_mode = call("POST", edge, token, base, {"strategy": strategy, "alias": "champion",
                                                "mode": "paper"})
    assert bad_mode.status_code == 422 and "mode" in bad_mode.text
    services = cloud.client("ecs").list_services(cluster=cloud.name("strategies"))
    assert strategy.lower() not in " ".join(services["serviceArns"])

    first = call("POST", edge, token, base, {"strategy": strategy, "version": 1,
                                             "mode": "dry-run"})
    assert first.status_code == 201, first.text
    sid = first.json()["session_id"]
    again = call("POST", edge, other, base, {"strategy": strategy, "alias": "champion",
                                             "mode": "dry-run"})
    assert again.status_code == 409 and sid in again.json()["detail"]
    assert call("DELETE", edge, other, f"{base}/{sid}").status_code == 404
    assert call("GET", edge, other, f"{base}/{sid}").status_code == 404
    assert call("DELETE", edge, token, f"{base}/nothing-dry-run").status_code == 404
    assert call("DELETE", edge, token, f"{base}/{sid}").status_code == 200
    twice = call("DELETE", edge, token, f"{base}/{sid}")
    assert twice.status_code == 409 and "already stopped" in twice.json()["detail"]
