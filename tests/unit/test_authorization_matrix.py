# ruff: noqa: F811  (pytest fixtures imported from test_backend_fixtures)
"""Every route of the backend's OpenAPI document (and the MLflow-write refusal) against every
role of the spec, in process over moto's mock_aws: the status each role gets, 403 naming the
role needed where refused. A route added without a decision for every role fails
``test_every_route_has_a_decision_for_every_role``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.test_backend_fixtures import (  # noqa: F401 (fixtures)
    Api,
    FakeRegistry,
    api,
    aws,
    registry,
)
from tests.unit.test_backend_trading import DRY, trading  # noqa: F401 (fixture)
from tradai.services.backend_api.main import create_app
from tradai.topology import default_topology

ROLES = [r.name for r in default_topology().edge.roles]
SESSIONS = "/api/v1/trading/sessions"
BACKTEST = {"strategy": "SmaCross", "alias": "champion", "timerange": "20240101-20240201"}
LIVE = {**DRY, "mode": "live"}
REGISTER = {"name": "X", "config": {"strategy": "X", "timeframe": "5m", "exchange": {
    "name": "binance", "pair_whitelist": ["BTC/USDT"]}}}
F = 403  # refused: the role is missing


Setup = Callable[[Api, str], None]


def _start(mode_body: dict[str, Any]) -> Setup:
    """The caller's own session exists (started as an operator with the same subject)."""
    def setup(api: Api, strategy: str) -> None:
        roles = api.roles
        api.as_owner("alice", ("operator",))
        started = api.client.post(SESSIONS, json={**mode_body, "strategy": strategy})
        assert started.status_code == 201, started.text
        api.as_owner("alice", roles)
    return setup


def _promoted(api: Api, strategy: str) -> None:
    roles = api.roles
    api.as_owner("alice", ("operator",))
    moved = api.client.post(f"/api/v1/strategies/{strategy}/aliases/champion",
                            json={"version": 1, "reason": "drill"})
    assert moved.status_code == 200, moved.text
    api.as_owner("alice", roles)


def _with_strategy(setup: Setup, strategy: str) -> Callable[[Api], None]:
    return lambda api: setup(api, strategy)


# (method, OpenAPI path, variant) -> request, setup, and the status per role.
Case = dict[str, Any]
MATRIX: dict[tuple[str, str, str], Case] = {
    ("GET", "/health", ""): {"path": "/health", "expect": dict.fromkeys(ROLES, 200)},
    ("GET", "/api/v1/strategies", ""): {"path": "/api/v1/strategies",
                                        "expect": dict.fromkeys(ROLES, 200)},
    ("GET", "/api/v1/strategies/{name}", ""): {"path": "/api/v1/strategies/SmaCross",
                                               "expect": dict.fromkeys(ROLES, 200)},
    ("GET", "/api/v1/strategies/{name}/audit", ""): {
        "path": "/api/v1/strategies/SmaCross/audit", "expect": dict.fromkeys(ROLES, 200)},
    # Registration is forwarded to the strategy service, not configured here: 503 once
    # the role check passed; with aliases it is a promotion.
    ("POST", "/api/v1/strategies", ""): {
        "path": "/api/v1/strategies", "json": REGISTER,
        "expect": {"viewer": F, "researcher": 503, "trader": F, "operator": 503}},
    ("POST", "/api/v1/strategies", "with aliases"): {
        "path": "/api/v1/strategies",
        "json": {**REGISTER, "aliases": ["champion"]},
        "expect": {"viewer": F, "researcher": F, "trader": F, "operator": 503}},
    ("POST", "/api/v1/strategies/{name}/aliases/{alias}", ""): {
        "path": "/api/v1/strategies/SmaCross/aliases/champion",
        "json": {"version": 1, "reason": "better sharpe"},
        "expect": {"viewer": F, "researcher": F, "trader": F, "operator": 200}},
    ("POST", "/api/v1/strategies/{name}/rollback", ""): {
        "path": "/api/v1/strategies/SmaCross/rollback", "setup": _promoted,
        "json": {"alias": "champion", "reason": "drawdown"},
        "expect": {"viewer": F, "researcher": F, "trader": F, "operator": 200}},
    # Not configured here (no data collection service): 503 once the role check passed.
    ("GET", "/api/v1/data/freshness", ""): {"path": "/api/v1/data/freshness",
                                            "expect": dict.fromkeys(ROLES, 503)},
    ("POST", "/api/v1/backtests", ""): {
        "path": "/api/v1/backtests", "json": BACKTEST,
        "expect": {"viewer": F, "researcher": 202, "trader": F, "operator": 202}},
    ("GET", "/api/v1/backtests", ""): {"path": "/api/v1/backtests",
                                       "expect": dict.fromkeys(ROLES, 200)},
    ("GET", "/api/v1/backtests/{job_id}", ""): {"path": "/api/v1/backtests/nope",
                                                "expect": dict.fromkeys(ROLES, 404)},
    # Cancelling needs what submitting needs; then an unknown job is 404.
    ("DELETE", "/api/v1/backtests/{job_id}", ""): {
        "path": "/api/v1/backtests/nope",
        "expect": {"viewer": F, "researcher": 404, "trader": F, "operator": 404}},
    ("DELETE", "/api/v1/backtests", ""): {
        "path": "/api/v1/backtests?status=QUEUED",
        "expect": {"viewer": F, "researcher": 200, "trader": F, "operator": 200}},
    ("POST", SESSIONS, "dry-run"): {
        "path": SESSIONS, "json": DRY,
        "expect": {"viewer": F, "researcher": F, "trader": 201, "operator": 201}},
    ("POST", SESSIONS, "live"): {
        "path": SESSIONS, "json": LIVE,
        "expect": {"viewer": F, "researcher": F, "trader": F, "operator": 201}},
    ("GET", SESSIONS, ""): {"path": SESSIONS, "expect": dict.fromkeys(ROLES, 200)},
    ("GET", SESSIONS + "/{session_id}", ""): {
        "path": SESSIONS + "/smacross-dry-run", "setup": _start(DRY),
        "expect": dict.fromkeys(ROLES, 200)},
    # The caller's own session: 403 naming the role, never 404.
    ("DELETE", SESSIONS + "/{session_id}", "dry-run"): {
        "path": SESSIONS + "/smacross-dry-run", "setup": _start(DRY),
        "expect": {"viewer": F, "researcher": F, "trader": 200, "operator": 200}},
    ("DELETE", SESSIONS + "/{session_id}", "live"): {
        "path": SESSIONS + "/smacross-live", "setup": _start(LIVE),
        "expect": {"viewer": F, "researcher": F, "trader": F, "operator": 200}},
    # The model lifecycle's tables and queue are not configured here: 503 once the role check
    # passed (tests/unit/test_retraining.py has them configured).
    ("GET", "/api/v1/retraining", ""): {"path": "/api/v1/retraining",
                                        "expect": dict.fromkeys(ROLES, 503)},
    ("GET", "/api/v1/strategies/{name}/drift", ""): {
        "path": "/api/v1/strategies/SmaCross/drift", "expect": dict.fromkeys(ROLES, 503)},
    ("POST", "/api/v1/strategies/{name}/retrain", ""): {
        "path": "/api/v1/strategies/SmaCross/retrain", "json": {"reason": "drifting"},
        "expect": {"viewer": F, "researcher": F, "trader": F, "operator": 503}},
    # Outside the OpenAPI document: MLflow writes re-pathed here by the deployed gateway.
    ("POST", "/api/v1/mlflow-writes", ""): {
        "path": "/api/v1/mlflow-writes", "json": {},
        "headers": {"X-Tradai-Mlflow-Path": "/mlflow/api/2.0/mlflow/registered-models/alias"},
        "expect": dict.fromkeys(ROLES, F)},
}
NEEDS = {"POST /api/v1/strategies": "researcher or operator",
         "POST /api/v1/backtests": "researcher or operator",
         "DELETE /api/v1/backtests": "researcher or operator",
         "DELETE /api/v1/backtests/{job_id}": "researcher or operator"}


def test_every_route_has_a_decision_for_every_role() -> None:
    documented = {(m.upper(), p) for p, ops in create_app().openapi()["paths"].items()
                  for m in ops}
    decided = {(m, p) for m, p, _ in MATRIX}
    assert documented - decided == set(), "routes without an authorization decision"
    assert decided - documented == {("POST", "/api/v1/mlflow-writes")}
    for key, case in MATRIX.items():
        assert set(case["expect"]) == set(ROLES), (key, "a decision for every role")


def _own_strategy(registry: FakeRegistry, case: Case, n: int) -> Case:
    """The case on a strategy of its own (a copy of SmaCross), so the sessions and aliases of
    one case do not meet another's in the one emulator a role's cases share."""
    name = f"SmaCross{n}"
    registry.versions[name] = [v.model_copy(update={"name": name, "strategy_class": name})
                               for v in registry.versions["SmaCross"]]

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("SmaCross", name).replace("smacross", name.lower())
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value
    return {**swap({k: v for k, v in case.items() if k != "setup"}),
            "setup": case.get("setup")}


@pytest.mark.parametrize("role", ROLES)
def test_role_gets_the_decided_status(api: Api, trading: Any, registry: FakeRegistry,
                                      role: str) -> None:
    """Every route for one role: the decided status, and a 403 that names the role needed."""
    wrong = []
    for n, (key, decided) in enumerate(MATRIX.items()):
        case = _own_strategy(registry, decided, n)
        api.as_owner("alice", (role,))
        if case["setup"]:
            _with_strategy(case["setup"], f"SmaCross{n}")(api)
        resp = api.client.request(key[0], case["path"], json=case.get("json"),
                                  headers=case.get("headers"))
        want = case["expect"][role]
        if resp.status_code != want:
            wrong.append((key, want, resp.status_code, resp.text[:200]))
            continue
        if want == F:
            detail = resp.json()["detail"]
            if key[1].startswith("/api/v1/mlflow-writes"):
                ok = "/api/v1/strategies/{name}/aliases/{alias}" in detail
            else:
                needed = NEEDS.get(f"{key[0]} {key[1]}") if not key[2] else None
                ok = (f"you have {role}" in detail and "needs the role" in detail
                      and (needed is None or needed in detail))
            if not ok:
                wrong.append((key, "403 naming the role", detail))
    assert wrong == [], wrong


def test_no_group_is_the_least_role_and_unknown_groups_are_ignored(api: Api,
                                                                  trading: Any) -> None:
    for groups in ((), ("admins",), ("Operator",)):  # group names are case-sensitive
        api.as_owner("alice", groups)
        assert api.roles_seen() == ("viewer",)
        assert api.client.get("/api/v1/strategies").status_code == 200
        refused = api.client.post("/api/v1/backtests", json=BACKTEST)
        assert refused.status_code == 403 and "you have viewer" in refused.json()["detail"]
    api.as_owner("alice", ("trader", "admins"))
    assert api.roles_seen() == ("trader",)


def test_other_users_resources_stay_hidden_whatever_the_role(api: Api, trading: Any) -> None:
    api.as_owner("bob", ("operator",))
    job = api.client.post("/api/v1/backtests", json=BACKTEST).json()["ticket_id"]
    assert api.client.post(SESSIONS, json=DRY).status_code == 201
    api.as_owner("alice", ("operator",))
    assert api.client.get(f"/api/v1/backtests/{job}").status_code == 404
    assert api.client.get(f"{SESSIONS}/smacross-dry-run").status_code == 404
    assert api.client.delete(f"{SESSIONS}/smacross-dry-run").status_code == 404
    assert api.client.get("/api/v1/backtests").json()["backtests"] == []
    assert api.client.get(SESSIONS).json()["sessions"] == []


def test_promotion_and_rollback_are_audited(api: Api, trading: Any,
                                            registry: FakeRegistry) -> None:
    api.as_owner("olga", ("operator",))
    base = "/api/v1/strategies/SmaCross"
    assert api.client.post(f"{base}/aliases/champion",
                           json={"version": 1, "reason": "v2 overfits"}).status_code == 200
    assert registry.get_strategy("SmaCross").aliases["champion"] == 1
    again = api.client.post(f"{base}/aliases/champion", json={"version": 1, "reason": "again"})
    assert again.status_code == 409 and "already points at v1" in again.json()["detail"]
    back = api.client.post(f"{base}/rollback", json={"reason": "v1 loses money"})
    assert back.status_code == 200, back.text
    assert registry.get_strategy("SmaCross").aliases["champion"] == 2
    events = api.client.get(f"{base}/audit").json()["events"]
    assert [(e["action"], e["from_version"], e["to_version"], e["actor"], e["reason"])
            for e in events] == [("rollback", 1, 2, "olga", "v1 loses money"),
                                 ("promote", 2, 1, "olga", "v2 overfits")]
    assert events[0]["undoes"] == events[1]["event_id"] and events[0]["roles"] == ["operator"]
    # The one recorded move is undone: nothing earlier to go back to.
    none = api.client.post(f"{base}/rollback", json={"reason": "once more"})
    assert none.status_code == 409 and "no move on record" in none.json()["detail"]
    api.as_owner("rita", ("researcher",))
    refused = api.client.post(f"{base}/rollback", json={"reason": "mine"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == ("rolling an alias back needs the role operator; "
                                        "you have researcher")
    assert registry.get_strategy("SmaCross").aliases["champion"] == 2
    assert len(api.client.get(f"{base}/audit").json()["events"]) == 2


def test_rollback_walks_back_through_several_promotions(api: Api, trading: Any,
                                                        registry: FakeRegistry) -> None:
    registry.versions["SmaCross"].append(registry.versions["SmaCross"][0].model_copy(
        update={"version": 3, "aliases": []}))
    api.as_owner("olga", ("operator",))
    base = "/api/v1/strategies/SmaCross"
    for v in (3, 1):
        assert api.client.post(f"{base}/aliases/champion",
                               json={"version": v, "reason": f"to v{v}"}).status_code == 200
    for want in (3, 2):
        assert api.client.post(f"{base}/rollback", json={"reason": "back"}).status_code == 200
        assert registry.get_strategy("SmaCross").aliases["champion"] == want
