# ruff: noqa: F811  (pytest fixtures imported from test_cli_tradai)
"""``tradai backtest cancel`` (one job, --all-queued) and ``backtest wait`` on a cancelled job,
against a mock gateway: the requests sent, refusals as one line with the server's reason."""

from __future__ import annotations

from typing import Any

from tests.unit.test_cli_tradai import gateway, home, run  # noqa: F401 (fixtures)

BASE = "/api/v1/backtests"


def _cancelled(job: str = "j-1") -> dict[str, Any]:
    return {"job_id": job, "status": "CANCELLED", "progress": 20, "strategy": "Ema",
            "version": 1, "request": {}, "created_at": "c", "cancelled_by": "alice",
            "cancelled_at": "2026-12-05T01:00:00+00:00",
            "events": [{"at": "2026-12-05T01:00:00+00:00", "event": "cancelled",
                        "detail": "by alice"}]}


def test_cancel_sends_delete_and_shows_the_ticket(gateway: Any) -> None:
    gateway.responses[f"{BASE}/j-1"] = [(200, _cancelled())]
    result = run("backtest", "cancel", "j-1")
    assert result.exit_code == 0, result.output
    assert gateway[0].method == "DELETE" and gateway[0].url.path == f"{BASE}/j-1"
    assert "CANCELLED" in result.output
    assert "cancelled by alice at 2026-12-05T01:00:00+00:00" in result.output


def test_cancel_all_queued(gateway: Any) -> None:
    gateway.responses[BASE] = [(200, {"cancelled": 2, "job_ids": ["a", "b"]})]
    result = run("backtest", "cancel", "--all-queued")
    assert result.exit_code == 0, result.output
    sent = gateway[0]
    assert sent.method == "DELETE" and sent.url.path == BASE
    assert dict(sent.url.params) == {"status": "QUEUED"}
    assert "cancelled 2 queued backtests" in result.output and "  a\n  b" in result.output


def test_cancel_needs_a_job_or_all_queued(gateway: Any) -> None:
    for args in ([], ["j-1", "--all-queued"]):
        result = run("backtest", "cancel", *args)
        assert result.exit_code == 1 and "give a JOB_ID or --all-queued" in result.output
    assert len(gateway) == 0


def test_refusals_are_one_line_naming_the_job_and_the_reason(gateway: Any) -> None:
    cases = [(404, "no backtest j-1", "404 Not Found"),
             (403, "backtest j-1 belongs to another user; only its owner may cancel it",
              "403 Forbidden"),
             (409, "backtest j-1 is already COMPLETED; only a QUEUED or RUNNING backtest can "
                   "be cancelled", "409 Conflict")]
    for status, detail, phrase in cases:
        gateway.responses[f"{BASE}/j-1"] = [(status, {"detail": detail})]
        result = run("backtest", "cancel", "j-1")
        assert result.exit_code == 1
        assert result.output.strip() == f"Error: cannot cancel j-1: {phrase}: {detail}"


def test_wait_treats_cancelled_as_final_exit_1(gateway: Any) -> None:
    gateway.responses[f"{BASE}/j-1"] = [(200, _cancelled())]
    result = run("backtest", "wait", "j-1", "--interval", "0.01")
    assert result.exit_code == 1
    assert "backtest cancelled by alice at 2026-12-05T01:00:00+00:00" in result.output
    assert len(gateway) == 1  # final at once: no more polls
    helped = run("backtest", "wait", "--help")
    assert "1 when FAILED or" in helped.output and "CANCELLED" in helped.output
