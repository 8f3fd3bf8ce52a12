"""The drift-retrain drill's invariants without a stack: each judges what the method recorded
and fails, naming itself, when the claim is false (a run kept instead of promoted, a second
alert, a challenger that is the champion itself, a rollback by the workflow, a late swap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradai.clock import Clock
from tradai_sim.drills import context as drill_context
from tradai_sim.drills import lifecycle
from tradai_sim.drills.context import DrillContext

NAME = "DriftProbability-t1"


@pytest.fixture()
def ctx() -> Any:
    c = DrillContext("local", "eu-central-1", "local", "t1", Clock(scale=1.0))
    c.status_cache[lifecycle.STATE] = {"strategy": NAME, "champion": 1}
    drill_context.install(c)
    yield c
    drill_context.install(None)


def _st(c: DrillContext) -> dict[str, Any]:
    return c.status_cache[lifecycle.STATE]


def _promoted_run(**over: Any) -> dict[str, Any]:
    return {"run": {"run_id": "r1", "state": "COMPLETED", "decision": "promoted",
                    "trigger": "drift", "champion_version": 1, "challenger_version": 2,
                    "champion_job": "j1", "challenger_job": "j2", "reason": "beats it",
                    "updated_at": "2026-12-05T10:00:00Z", **over},
            "champion_after": 2,
            "audit": [{"action": "promote", "to_version": 2, "actor": "retraining-workflow"}]}


def test_windows_put_the_change_at_a_midnight_and_the_champion_a_day_before_it() -> None:
    now = datetime(2026, 12, 5, 9, 30, tzinfo=UTC).timestamp()
    w = lifecycle.windows(now, regime_days_ago=22, train_days=14)
    assert w["regime_since"] == datetime(2026, 11, 13, tzinfo=UTC)
    assert w["train_end"] == datetime(2026, 11, 12, tzinfo=UTC)
    assert w["train_start"] == datetime(2026, 10, 29, tzinfo=UTC)
    # The workflow trains on the 14 days before the last 7: all after the change.
    assert w["today"] - w["regime_since"] > timedelta(days=21)


def test_every_invariant_is_pending_before_the_method(ctx: DrillContext) -> None:
    for probe in (lifecycle.drift_raised, lifecycle.drift_alert_once,
                  lifecycle.retraining_queued, lifecycle.challenger_promoted,
                  lifecycle.worse_challenger_kept, lifecycle.rollback_restores):
        v = probe()
        assert v["ok"] and v["phase"] == "skipped", v
    assert lifecycle.session_follows("promoted")["ok"]


def test_drift_raised_needs_drifting_over_the_threshold_on_the_champion(
        ctx: DrillContext) -> None:
    _st(ctx)["drift_state"] = {"status": "DRIFTING", "max_psi": 4.2, "version": 1,
                               "max_feature": "volatility_24"}
    assert lifecycle.drift_raised()["ok"]
    _st(ctx)["drift_state"]["max_psi"] = 0.2
    v = lifecycle.drift_raised()
    assert not v["ok"] and v["invariant"] == "drift-raised" and v["value"] == 0.2
    _st(ctx)["drift_state"] = {"http_status": 404, "detail": "no drift measured"}
    assert not lifecycle.drift_raised()["ok"]


def test_one_drift_alert_counts_the_champions_alerts_before_the_retraining(
        ctx: DrillContext, monkeypatch: pytest.MonkeyPatch) -> None:
    _st(ctx)["drift_state"] = {"status": "DRIFTING"}
    _st(ctx)["drift_reports"] = [{}, {}]
    ctx.marks["scheduler"] = 1000.0
    msgs = [{"subject": f"DRIFT model {NAME} v1: PSI 4.20 on volatility_24",
             "simulated_time": 900.0},
            # after the rollback v1 drifts again: a new incident, not this one
            {"subject": f"DRIFT model {NAME} v1: PSI 4.10 on ret_24", "simulated_time": 2000.0},
            {"subject": "DRIFT model Other v1: PSI 1.00 on ret_1", "simulated_time": 950.0}]
    monkeypatch.setattr(DrillContext, "control", lambda self, path: {"messages": msgs})
    assert lifecycle.drift_alert_once()["value"] == 1
    msgs.append({"subject": f"DRIFT model {NAME} v1: PSI 4.30 on ret_6",
                 "simulated_time": 990.0})
    v = lifecycle.drift_alert_once()
    assert not v["ok"] and v["value"] == 2 and v["invariant"] == "one-drift-alert"


def test_retraining_queued_needs_the_schedulers_drift_run_of_the_champion(
        ctx: DrillContext) -> None:
    _st(ctx)["schedule"] = {"queued": [NAME], "already": []}
    _st(ctx)["runs"] = {"scheduled": _promoted_run()}
    assert lifecycle.retraining_queued()["ok"]
    _st(ctx)["runs"] = {"scheduled": _promoted_run(trigger="operator")}
    assert not lifecycle.retraining_queued()["ok"]
    _st(ctx)["schedule"] = {"queued": [], "already": []}
    _st(ctx)["runs"] = {"scheduled": _promoted_run()}
    assert not lifecycle.retraining_queued()["ok"]


def test_challenger_promoted_fails_when_kept_unmoved_or_not_audited_as_the_workflow(
        ctx: DrillContext) -> None:
    ctx.marks["scheduler"] = datetime(2026, 12, 5, 9, 50, tzinfo=UTC).timestamp()
    _st(ctx)["schedule"] = {}
    _st(ctx)["runs"] = {"scheduled": _promoted_run()}
    v = lifecycle.challenger_promoted()
    assert v["ok"] and v["value"] == 600.0
    for bad in (_promoted_run(decision="kept"), _promoted_run(state="FAILED"),
                {**_promoted_run(), "champion_after": 1},  # the alias did not move
                {**_promoted_run(), "audit": [{"action": "promote", "to_version": 2,
                                               "actor": "someone"}]},
                _promoted_run(challenger_version=1)):
        _st(ctx)["runs"] = {"scheduled": bad}
        v = lifecycle.challenger_promoted()
        assert not v["ok"] and v["invariant"] == "challenger-promoted", bad


def test_session_follows_within_the_deadline_from_the_alias_move(ctx: DrillContext) -> None:
    _st(ctx)["swaps"] = {"promoted": {"target": 2, "version": 2, "moved_at": 100.0,
                                      "seen_at": 190.0}}
    v = lifecycle.session_follows("promoted", deadline_s=300)
    assert v["ok"] and v["value"] == 90.0 and v["deadline"] == 300
    _st(ctx)["swaps"]["promoted"]["seen_at"] = 500.0
    assert not lifecycle.session_follows("promoted", deadline_s=300)["ok"]
    _st(ctx)["swaps"]["promoted"].update(seen_at=None, version=1)  # never swapped
    v = lifecycle.session_follows("promoted", deadline_s=300)
    assert not v["ok"] and v["value"] is None and v["invariant"] == "session-follows-promoted"


def test_worse_challenger_kept_needs_a_new_version_kept_with_the_champion_untouched(
        ctx: DrillContext) -> None:
    _st(ctx)["runs"] = {"scheduled": _promoted_run()}
    kept = {"state": "COMPLETED", "decision": "kept", "reason": "needs a gain over 10",
            "champion_version": 2, "challenger_version": 3}
    _st(ctx)["runs"]["worse"] = {"run": kept, "champion_after": 2}
    assert lifecycle.worse_challenger_kept()["ok"]
    for run, after in (({**kept, "decision": "promoted"}, 3),
                       (kept, 3),  # the alias moved all the same
                       ({**kept, "challenger_version": 2}, 2),  # the champion itself
                       ({**kept, "reason": ""}, 2)):
        _st(ctx)["runs"]["worse"] = {"run": run, "champion_after": after}
        assert not lifecycle.worse_challenger_kept()["ok"], (run, after)


def test_rollback_restores_needs_the_previous_version_by_an_operator(ctx: DrillContext) -> None:
    _st(ctx)["runs"] = {"scheduled": _promoted_run()}
    body = {"action": "rollback", "from_version": 2, "to_version": 1, "actor": "sub-1",
            "actor_name": "operator@tradai.local", "roles": ["operator"]}
    _st(ctx)["rollback"] = {"status": 200, "body": body, "at": 5.0, "champion_after": 1}
    assert lifecycle.rollback_restores()["ok"]
    for bad in ({"status": 409, "body": {"detail": "nothing to roll back to"},
                 "champion_after": 2},
                {"status": 200, "body": {**body, "roles": ["researcher"]}, "champion_after": 1},
                {"status": 200, "body": body, "champion_after": 2}):
        _st(ctx)["rollback"] = bad
        v = lifecycle.rollback_restores()
        assert not v["ok"] and v["invariant"] == "rollback-restores-previous", bad


def test_the_control_is_what_the_monitor_measures_on_the_seeded_market(
        ctx: DrillContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control PSI (no regime change) equals DriftMonitor.measure over the same window of
    the same seeded candles, and drift-raised fails when the measured PSI is not above it."""
    import pandas as pd

    from tradai.models.candles import CandleColumns
    from tradai.models.features import compute_features
    from tradai.models.monitor import DriftMonitor, MonitoredModel
    from tradai.models.reference import build_reference
    from tradai_sim.exchange.market import Market

    step, seed, pair = 300_000, 42, "BTC/USDT"
    now = datetime(2026, 12, 5, 9, 30, tzinfo=UTC).timestamp()
    w = lifecycle.windows(now, 22, 14)
    market = Market(seed, [pair])

    def candles(start: int, end: int) -> Any:
        return market.candles(pair, "5m", start, (end - start) // step + 1, end + step)

    s, e = int(w["train_start"].timestamp() * 1000), int(w["train_end"].timestamp() * 1000)
    c = candles(s - 100 * step, e - step)
    frame = pd.DataFrame({"high": c.high, "low": c.low, "close": c.close, "volume": c.volume},
                         index=pd.to_datetime(c.open_time, unit="ms", utc=True))
    feats = compute_features(frame).iloc[100:]
    reference = build_reference(feats)

    class Seeded:
        def columns(self, key: Any, start_ms: int, end_ms: int) -> CandleColumns:
            k = candles(start_ms, end_ms)
            return CandleColumns(*(list(map(float, a)) for a in (
                k.open_time, k.open, k.high, k.low, k.close, k.volume)))

    monitor = DriftMonitor(None, Seeded(), None, "", None, "", None, None)  # type: ignore
    result, (start, newest) = monitor.measure(
        MonitoredModel("S", 1, "champion", reference, pair, "5m"), now)
    monkeypatch.setattr(lifecycle, "_exchange", lambda c: "http://exchange")
    monkeypatch.setattr(lifecycle.requests, "get", lambda *a, **k: type(
        "R", (), {"json": lambda self: {"seed": seed}})())
    st = _st(ctx)
    st.update(pair=pair, timeframe="5m", step_ms=step, reference=reference,
              drift_state={"window_start_ms": start, "window_end_ms": newest})
    control = lifecycle.control_psi(ctx, st)
    assert control == round(result.max_psi, 3), ctx.notes
    st["control_psi"] = control
    st["drift_state"] = {"status": "DRIFTING", "version": 1, "max_psi": control,
                         "max_feature": result.max_feature}
    v = lifecycle.drift_raised()
    assert not v["ok"] and v["invariant"] == "drift-raised"  # not above the control: fails
    st["drift_state"]["max_psi"] = control + 1.0
    assert lifecycle.drift_raised()["ok"]


def test_session_running_waits_out_a_stale_mark_that_lags_the_resumed_heartbeats(
        ctx: DrillContext, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx.sessions["model"] = "s-dry-run"
    answers = iter([{"status": "STALE", "heartbeat_age_seconds": 9.0, "version": 1}] * 2
                   + [{"status": "RUNNING", "heartbeat_age_seconds": 3.0, "version": 1}] * 9)
    monkeypatch.setattr(lifecycle.trading, "show", lambda c, sid: next(answers))
    v = lifecycle.session_running("model", max_age_s=90, settle_s=5)
    assert v["ok"] and v["value"] == 3.0 and "seen STALE on the way" in v["detail"]
    monkeypatch.setattr(lifecycle.trading, "show", lambda c, sid: {
        "status": "STALE", "heartbeat_age_seconds": 400.0, "version": 1})
    v = lifecycle.session_running("model", max_age_s=90, settle_s=1)
    assert not v["ok"] and v["invariant"] == "model-session-running"
