"""The registry is written only through the platform, by the roles allowed to: through the
real gateway, backend, strategy service and MLflow of the local cloud, a researcher registers
a version but cannot move an alias; an operator promotes and rolls back; each write has its
audit record (who, when, from which version to which, why) and MLflow shows the move."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.integration import trading
from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.test_edge_gateway import Edge

pytestmark = pytest.mark.integration
REGISTER_TIMEOUT = 180  # the strategy service loads the source and the exchange's markets


@pytest.fixture(scope="module")
def edge(cloud: RunningCloud) -> Edge:
    e = Edge(cloud)
    wait_for(lambda: e.healthy("backend-api"), timeout=120, interval=1)
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    return e


def _sub(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def _aliases(cloud: RunningCloud, name: str) -> dict[str, int]:
    return dict(trading.adapter(cloud).get_strategy(name).aliases)


def _audit(edge: Edge, token: str, name: str) -> list[dict[str, Any]]:
    resp = edge.get(f"/api/v1/strategies/{name}/audit", token)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["events"])


def test_operator_promotes_and_rolls_back_researcher_is_refused(edge: Edge,
                                                                cloud: RunningCloud) -> None:
    name, first = trading.register_probe(cloud, variant="v1")  # champion -> v1
    _, second = trading.register_probe(cloud, name, variant="v2", alias=None)
    researcher = edge.user(groups=("researcher",))["access"]
    operator = edge.user(groups=("operator",))["access"]
    path = f"/api/v1/strategies/{name}/aliases/champion"

    refused = edge.post(path, researcher, {"version": second, "reason": "mine is better"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("moving an alias (promotion) needs the role operator; "
                                        "you have researcher")
    assert _aliases(cloud, name) == {"champion": first}
    assert _audit(edge, researcher, name) == []

    moved = edge.post(path, operator, {"version": second, "reason": "v2 beat v1 by 12%"})
    assert moved.status_code == 200, moved.text
    assert _aliases(cloud, name) == {"champion": second}  # MLflow itself shows the move
    refused = edge.post(f"/api/v1/strategies/{name}/rollback", researcher, {"reason": "no"})
    assert refused.status_code == 403 and "needs the role operator" in refused.json()["detail"]

    back = edge.post(f"/api/v1/strategies/{name}/rollback", operator,
                     {"alias": "champion", "reason": "v2 drew down 9% live"})
    assert back.status_code == 200, back.text
    assert _aliases(cloud, name) == {"champion": first}
    events = _audit(edge, researcher, name)  # any role reads the audit
    assert [(e["action"], e["alias"], e["from_version"], e["to_version"], e["reason"])
            for e in events] == [
        ("rollback", "champion", second, first, "v2 drew down 9% live"),
        ("promote", "champion", first, second, "v2 beat v1 by 12%")]
    assert {e["actor"] for e in events} == {_sub(operator)}
    assert all(e["roles"] == ["operator"] and e["at"].endswith("Z") for e in events)
    assert events[0]["undoes"] == events[1]["event_id"]


def test_researcher_registers_through_the_api_but_not_with_an_alias(edge: Edge,
                                                                    cloud: RunningCloud) -> None:
    researcher = edge.user(groups=("researcher",))["access"]
    viewer = edge.user(groups=("viewer",))["access"]
    name = f"Probe{uuid.uuid4().hex[:8]}"
    body = {"name": name, "strategy_class": "TradingProbe", "config": trading.PROBE_CONFIG,
            "source_code": trading.PROBE_SOURCE % {"variant": "api"}, "warmup_days": 1,
            "reason": "first cut"}

    refused = edge.post("/api/v1/strategies", viewer, body)
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("registering a strategy version needs the role "
                                        "researcher or operator; you have viewer")
    with_alias = edge.post("/api/v1/strategies", researcher, {**body, "aliases": ["champion"]})
    assert with_alias.status_code == 403
    assert "needs the role operator" in with_alias.json()["detail"]

    created = _post_slow(edge, researcher, body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name and created.json()["version"] == 1
    assert _aliases(cloud, name) == {}
    [event] = _audit(edge, viewer, name)
    assert (event["action"], event["to_version"], event["actor"], event["reason"]) == (
        "register", 1, _sub(researcher), "first cut")

    # Not an IStrategy: refused before anything is stored, naming the field.
    bad = _post_slow(edge, researcher, {**body, "source_code": "class TradingProbe:\n    pass\n"})
    assert bad.status_code == 422, bad.text
    assert bad.json()["detail"][0]["loc"][-1] == "source_code"
    assert [v.version for v in trading.adapter(cloud).get_strategy(name).versions] == [1]


def test_viewer_cannot_submit_a_backtest_or_start_a_session(edge: Edge) -> None:
    viewer = edge.user(groups=())["access"]  # no group: the least role
    submitted = edge.post("/api/v1/backtests", viewer, {"strategy": "EmaCrossover",
                                                        "timerange": "20240101-20240201"})
    assert submitted.status_code == 403
    assert submitted.json()["detail"] == ("submitting a backtest needs the role researcher or "
                                          "operator; you have viewer")
    started = edge.post("/api/v1/trading/sessions", viewer, {
        "strategy": "EmaCrossover", "alias": "champion", "mode": "dry-run"})
    assert started.status_code == 403
    assert "needs the role trader or operator" in started.json()["detail"]
    assert edge.get("/api/v1/strategies", viewer).status_code == 200


def _post_slow(edge: Edge, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(edge.gateway + "/api/v1/strategies", json=body, timeout=REGISTER_TIMEOUT,
                      headers={"Authorization": f"Bearer {token}"})
