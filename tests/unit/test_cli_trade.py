# ruff: noqa: F811  (pytest fixtures imported from test_cli_tradai)
"""``tradai trade start / list / show / stop`` against a mock gateway: the requests sent,
the tables shown, refusals as one line with the server's reason."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.test_cli_tradai import gateway, home, run  # noqa: F401 (fixtures)

BASE = "/api/v1/trading/sessions"


def _session(**extra: Any) -> dict[str, Any]:
    return {"session_id": "ema-dry-run", "strategy": "Ema", "ref": "champion",
            "mode": "dry-run", "status": "RUNNING", "version": 3, "heartbeat_age_seconds": 12.4,
            "open_trades": 2, "profit_abs": 1.25, "profit_pct": 0.12, "last_candle": "c",
            "capacity_provider": "FARGATE_SPOT", **extra}


def test_start_sends_strategy_alias_and_mode(gateway: Any) -> None:
    gateway.responses[BASE] = [(201, _session(status="STARTING"))]
    result = run("trade", "start", "-s", "Ema", "--alias", "champion", "--mode", "dry-run")
    assert result.exit_code == 0, result.output
    assert "ema-dry-run STARTING (FARGATE_SPOT)" in result.output
    sent = gateway[0]
    assert sent.method == "POST" and sent.url.path == BASE
    assert json.loads(sent.content) == {"strategy": "Ema", "alias": "champion",
                                        "mode": "dry-run"}


def test_start_live_pinned_version(gateway: Any) -> None:
    gateway.responses[BASE] = [(201, _session(session_id="ema-live", mode="live"))]
    assert run("trade", "start", "-s", "Ema", "--version", "2", "--mode", "live").exit_code == 0
    assert json.loads(gateway[0].content) == {"strategy": "Ema", "version": 2, "mode": "live"}


def test_start_needs_exactly_one_of_alias_and_version(gateway: Any) -> None:
    for extra in ([], ["--alias", "a", "--version", "1"]):
        result = run("trade", "start", "-s", "Ema", *extra)
        assert result.exit_code == 1 and "--alias or --version" in result.output
    assert len(gateway) == 0  # nothing sent


def test_refusals_are_one_line_with_the_reason(gateway: Any) -> None:
    gateway.responses[BASE] = [(409, {"detail": "a dry-run session of Ema already exists "
                                                "(ema-dry-run, RUNNING); stop it first"})]
    result = run("trade", "start", "-s", "Ema", "--alias", "champion")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "409 Conflict: a dry-run session of Ema already exists" in result.output
    gateway.responses[BASE] = [(422, {"detail": [{"loc": ["body", "mode"], "msg":
                                                  "live trading needs exchange API keys in "
                                                  "secret tradai-dev-exchange-credentials"}]})]
    live = run("trade", "start", "-s", "Ema", "--alias", "champion", "--mode", "live")
    assert live.exit_code == 1
    assert "mode: live trading needs exchange API keys in secret" in live.output


def test_list_table(gateway: Any) -> None:
    gateway.responses[BASE] = [(200, {"sessions": [
        _session(), _session(session_id="rsi-live", mode="live", status="STARTING",
                             version=None, heartbeat_age_seconds=None, open_trades=None,
                             profit_abs=None)]})]
    result = run("trade", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    ema = next(line for line in lines if "ema-dry-run" in line)
    assert "RUNNING" in ema and "v3" in ema and "12 s" in ema and "1.25" in ema
    assert "STARTING" in next(line for line in lines if "rsi-live" in line)


def test_show_prints_recent_trades_and_json_is_raw(gateway: Any) -> None:
    body = _session(recent_trades=[{"pair": "BTC/USDT", "profit_abs": 0.5}])
    gateway.responses[f"{BASE}/ema-dry-run"] = [(200, body)]
    result = run("trade", "show", "ema-dry-run")
    assert result.exit_code == 0 and "BTC/USDT" in result.output and "follows champion" in \
        result.output
    raw = run("--json", "trade", "show", "ema-dry-run")
    assert json.loads(raw.output) == body


def test_stop_sends_delete(gateway: Any) -> None:
    gateway.responses[f"{BASE}/ema-dry-run"] = [(200, _session(status="STOPPED"))]
    result = run("trade", "stop", "ema-dry-run")
    assert result.exit_code == 0 and "ema-dry-run STOPPED" in result.output
    assert gateway[0].method == "DELETE"
    gateway.responses[f"{BASE}/nope-live"] = [(404, {"detail": "no trading session nope-live"})]
    missing = run("trade", "stop", "nope-live")
    assert missing.exit_code == 1 and "404 Not Found: no trading session nope-live" in \
        missing.output
