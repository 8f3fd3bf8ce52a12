"""The ``tradai`` CLI against a mock gateway (httpx mock transport) and an in-process
Cognito (moto): login and its file, tables, one-line errors, submit, wait's exit codes."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tradai.cli import api as api_module
from tradai.cli.main import cli

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for var in ("TRADAI_API_URL", "TRADAI_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


class Seen(list[httpx.Request]):
    responses: dict[str, list[tuple[int, Any]]]


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Seen]:
    """Requests seen; answers from ``responses`` (path -> list of (status, body))."""
    seen = Seen()
    responses: dict[str, list[tuple[int, Any]]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        queue = responses[request.url.path]
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, json=body, headers={"retry-after": "7"})
    real = httpx.Client
    monkeypatch.setattr(api_module.httpx, "Client",
                        lambda **kw: real(**{**kw, "transport": httpx.MockTransport(handler)}))
    seen.responses = responses
    yield seen


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["--api", "http://gw.test", "--token", "tok", *args])


def test_login_with_token_stores_it_privately(home: Path) -> None:
    result = CliRunner().invoke(cli, ["login", "--api", "http://gw.test/", "--token", "abc"])
    assert result.exit_code == 0, result.output
    path = home / "tradai" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["access_token"] == "abc"


def test_login_with_password_against_cognito(home: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="eu-central-1")
        pool = idp.create_user_pool(PoolName="p")["UserPool"]["Id"]
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="cli",
                                             ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])[
            "UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool, Username="ann", MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool, Username="ann",
                                    Password="Secret123!Secret", Permanent=True)
        args = ["login", "--api", "http://gw.test", "--client-id", client, "-u", "ann"]
        ok = CliRunner().invoke(cli, [*args, "--password", "Secret123!Secret"])
        bad = CliRunner().invoke(cli, [*args, "--password", "wrong"])
    assert ok.exit_code == 0, ok.output
    stored = json.loads((home / "tradai" / "credentials.json").read_text())
    assert stored["access_token"].count(".") == 2 and stored["refresh_token"]
    assert "Secret123" not in (home / "tradai" / "credentials.json").read_text()
    assert bad.exit_code == 1 and "login failed" in bad.output


def test_no_api_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["strategies", "list"])
    assert result.exit_code == 1 and "no API URL" in result.output


def test_strategies_list_table(gateway: Any) -> None:
    gateway.responses["/api/v1/strategies"] = [(200, {"strategies": [
        {"name": "EmaCrossover", "latest_version": 2, "aliases": {"champion": 2},
         "description": "EMA"}]})]
    result = run("strategies", "list")
    assert result.exit_code == 0 and "EmaCrossover" in result.output
    assert "champion=2" in result.output
    assert gateway[0].headers["authorization"] == "Bearer tok"


@pytest.mark.parametrize(("status", "body", "expected"), [
    (401, {"message": "Unauthorized", "reason": "token expired"}, "401 Unauthorized: token "
                                                                   "expired"),
    (429, {"message": "Too Many Requests", "reason": "more than 100"}, "retry after 7 s"),
    (422, {"detail": [{"loc": ["body", "timerange"], "msg": "inverted"}]},
     "timerange: inverted"),
    (503, {"detail": "strategy registry unavailable"}, "503 Service Unavailable: strategy"),
])
def test_http_errors_are_one_line_with_the_server_reason(gateway: Any, status: int, body: Any,
                                                         expected: str) -> None:
    gateway.responses["/api/v1/strategies"] = [(status, body)]
    result = run("strategies", "list")
    assert result.exit_code == 1
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_backtest_submit_sends_the_contract(gateway: Any) -> None:
    gateway.responses["/api/v1/backtests"] = [(202, {"ticket_id": "t1", "job_id": "t1",
                                                     "status": "QUEUED"})]
    result = run("backtest", "submit", "-s", "Ema", "--alias", "champion", "--pair",
                 "BTC/USDT", "--pair", "ETH/USDT", "--timerange", "20240101-20240301",
                 "--idempotency-key", "k1")
    assert result.exit_code == 0 and "t1 QUEUED" in result.output
    sent = gateway[0]
    assert json.loads(sent.content) == {"strategy": "Ema", "alias": "champion",
                                        "pairs": ["BTC/USDT", "ETH/USDT"],
                                        "timerange": "20240101-20240301"}
    assert sent.headers["idempotency-key"] == "k1"


def test_backtest_submit_hyperopt(gateway: Any) -> None:
    gateway.responses["/api/v1/backtests"] = [(202, {"ticket_id": "t2", "job_id": "t2",
                                                     "status": "QUEUED"})]
    result = run("backtest", "submit", "-s", "Ema", "--mode", "hyperopt", "--epochs", "5")
    assert result.exit_code == 0, result.output
    assert json.loads(gateway[0].content) == {"strategy": "Ema", "mode": "hyperopt",
                                              "epochs": 5}


def _status(state: str, progress: float, **extra: Any) -> dict[str, Any]:
    return {"job_id": "j1", "status": state, "progress": progress, "strategy": "Ema",
            "version": 1, "request": {}, "created_at": "", **extra}


def test_wait_exits_0_on_completed(gateway: Any) -> None:
    gateway.responses["/api/v1/backtests/j1"] = [
        (200, _status("QUEUED", 0)), (200, _status("RUNNING", 40)),
        (200, _status("COMPLETED", 100, result={"total_trades": 12, "profit_total": 0.05}))]
    result = run("backtest", "wait", "j1", "--interval", "0")
    assert result.exit_code == 0, result.output
    assert "total_trades" in result.output and len(gateway) == 3


def test_wait_exits_1_on_failed_with_reason(gateway: Any) -> None:
    gateway.responses["/api/v1/backtests/j1"] = [
        (200, _status("FAILED", 10, error="strategy class failed to load"))]
    result = run("backtest", "wait", "j1", "--interval", "0")
    assert result.exit_code == 1 and "strategy class failed to load" in result.output


def test_wait_exits_2_on_timeout(gateway: Any) -> None:
    gateway.responses["/api/v1/backtests/j1"] = [(200, _status("RUNNING", 10))]
    result = run("backtest", "wait", "j1", "--interval", "0", "--timeout", "0")
    assert result.exit_code == 2 and "still RUNNING" in result.output


EVENT = {"strategy": "EmaCrossover", "event_id": "1.0#a", "at": "2026-12-04T10:00:00Z",
         "action": "promote", "alias": "champion", "from_version": 2, "to_version": 1,
         "reason": "v2 overfits", "actor": "sub-1", "actor_name": "olga", "roles": ["operator"]}


def test_strategies_promote_rollback_audit_send_the_contract(gateway: Any) -> None:
    base = "/api/v1/strategies/EmaCrossover"
    gateway.responses[f"{base}/aliases/champion"] = [(200, EVENT)]
    gateway.responses[f"{base}/rollback"] = [(200, {**EVENT, "action": "rollback",
                                                    "from_version": 1, "to_version": 2})]
    gateway.responses[f"{base}/audit"] = [(200, {"events": [EVENT]})]
    promoted = run("strategies", "promote", "EmaCrossover", "--version", "1",
                   "--reason", "v2 overfits")
    assert promoted.exit_code == 0, promoted.output
    assert "promote: EmaCrossover@champion v2 -> v1 by olga" in promoted.output
    assert json.loads(gateway[-1].content) == {"version": 1, "reason": "v2 overfits"}
    back = run("strategies", "rollback", "EmaCrossover", "--reason", "lost money")
    assert back.exit_code == 0 and "rollback: EmaCrossover@champion v1 -> v2" in back.output
    assert json.loads(gateway[-1].content) == {"alias": "champion", "reason": "lost money"}
    listed = run("strategies", "audit", "EmaCrossover", "--limit", "5")
    assert listed.exit_code == 0 and "v2 overfits" in listed.output
    assert gateway[-1].url.params["limit"] == "5"


def test_promote_refused_is_one_line_naming_the_role(gateway: Any) -> None:
    gateway.responses["/api/v1/strategies/EmaCrossover/aliases/champion"] = [(403, {
        "detail": "moving an alias (promotion) needs the role operator; you have researcher"})]
    result = run("strategies", "promote", "EmaCrossover", "--version", "1", "--reason", "x y z")
    assert result.exit_code == 1
    assert "needs the role operator; you have researcher" in result.output
    assert len(result.output.strip().splitlines()) == 1
    missing = run("strategies", "promote", "EmaCrossover", "--version", "1")
    assert missing.exit_code == 2 and "--reason" in missing.output


RUN = {"run_id": "20261205T090924-ModelProbability", "model_name": "ModelProbability",
       "requested_at": "2026-12-05T09:09:24Z", "state": "COMPLETED", "trigger": "operator",
       "champion_version": 1, "challenger_version": 2,
       "champion_metrics": {"profit_total": -0.015}, "challenger_metrics": {"profit_total": 0.02},
       "decision": "promoted", "reason": "the challenger beats the champion"}


def test_retraining_list_drift_and_retrain_send_the_contract(gateway: Any) -> None:
    """Issue 12 item 6: tradai retraining list, tradai strategies drift / retrain."""
    gateway.responses["/api/v1/retraining"] = [(200, {"runs": [RUN]})]
    listed = run("retraining", "list", "--strategy", "ModelProbability", "--limit", "5")
    assert listed.exit_code == 0, listed.output
    assert "promoted" in listed.output and "-0.0150" in listed.output
    assert dict(gateway[-1].url.params) == {"limit": "5", "strategy": "ModelProbability"}
    as_json = CliRunner().invoke(cli, ["--api", "http://gw.test", "--token", "tok", "--json",
                                       "retraining", "list"])
    assert json.loads(as_json.output) == {"runs": [RUN]}
    drift = {"model_name": "ModelProbability", "version": 1, "status": "DRIFTING",
             "max_psi": 0.41, "max_feature": "ret_24", "threshold": 0.25, "incidents": 1,
             "psi": {"ret_24": 0.41, "rsi_14": 0.05}}
    gateway.responses["/api/v1/strategies/ModelProbability/drift"] = [(200, drift)]
    shown = run("strategies", "drift", "ModelProbability")
    assert shown.exit_code == 0 and "DRIFTING" in shown.output and "0.4100" in shown.output
    gateway.responses["/api/v1/strategies/ModelProbability/retrain"] = [
        (202, {**RUN, "state": "QUEUED", "decision": None})]
    queued = run("strategies", "retrain", "ModelProbability", "--margin", "0.02")
    assert queued.exit_code == 0 and "QUEUED" in queued.output
    assert json.loads(gateway[-1].content) == {"reason": "requested by an operator",
                                               "margin": 0.02}
    gateway.responses["/api/v1/strategies/EmaCrossover/retrain"] = [(422, {
        "detail": "EmaCrossover v1 (champion) is not driven by a trained model"})]
    refused = run("strategies", "retrain", "EmaCrossover")
    assert refused.exit_code == 1 and "not driven by a trained model" in refused.output


def test_backtest_status_shows_the_seconds_per_stage(gateway: Any) -> None:
    timings = {"queue": 0.4, "validation": 1.25, "preparation": 12.0, "total": 20.5}
    gateway.responses["/api/v1/backtests/j1"] = [
        (200, {**_status("COMPLETED", 100, result={"total_trades": 3}), "timings": timings})]
    result = run("backtest", "status", "j1")
    assert result.exit_code == 0, result.output
    assert "seconds per stage: queue 0.4, validation 1.2, preparation 12.0, total 20.5" \
        in result.output
