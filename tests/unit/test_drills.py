"""The drill machinery without a stack: invariants and their deadlines, verdicts read from a
Chaos Toolkit journal, rollbacks after a failure, the reports, and the CLI's bad input."""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from tradai.clock import Clock
from tradai_sim.drill_cli import drill
from tradai_sim.drills import runner
from tradai_sim.drills.context import DrillContext
from tradai_sim.drills.invariants import Watch, recovers
from tradai_sim.drills.reports.html import RunSummary
from tradai_sim.drills.verdicts import failed, outcomes

SCALE = 100.0  # simulated seconds per wall second: deadlines of minutes pass in a second


def ctx() -> DrillContext:
    return DrillContext("local", "eu-central-1", "local", "t1", Clock(scale=SCALE))


class Flips:
    """A check that fails until ``after_sim`` simulated seconds from now, then holds."""

    def __init__(self, c: DrillContext, after_sim: float | None) -> None:
        self.at = None if after_sim is None else c.now() + after_sim
        self.c = c

    def __call__(self) -> tuple[bool, str]:
        ok = self.at is not None and self.c.now() >= self.at
        return ok, "holds" if ok else "broken"


def test_recovery_is_measured_from_the_fault_to_the_first_good_look_after_the_last_bad() -> None:
    c = ctx()
    w = Watch(lambda: (True, ""))
    w.observations = [(100.0, True), (110.0, False), (120.0, True), (130.0, False),
                      (140.0, True), (150.0, True)]
    assert w.recovered_at(105.0) == 140.0
    assert w.recovered_at(141.0) == 141.0  # never broken since: held from the start
    c.faults.append({"template": "f", "experiment_id": "e", "started_at": c.now()})
    v = recovers(c, "egress", Flips(c, 60.0), deadline_s=120.0)
    assert v.ok and v.phase == "recovery"
    assert 60.0 <= v.value <= 120.0  # type: ignore[operator]


def test_a_missed_deadline_is_reported_failed_with_its_measured_value() -> None:
    c = ctx()
    c.faults.append({"template": "f", "experiment_id": "e", "started_at": c.now()})
    v = recovers(c, "egress", Flips(c, 200.0), deadline_s=150.0)
    assert not v.ok and v.deadline == 150.0
    assert v.value is not None and v.value > 150.0


def test_a_recovery_that_never_comes_is_reported_failed_with_no_value() -> None:
    c = ctx()
    c.faults.append({"template": "f", "experiment_id": "e", "started_at": c.now()})
    started = time.perf_counter()
    v = recovers(c, "egress", Flips(c, None), deadline_s=100.0)
    assert not v.ok and v.value is None and v.detail == "broken"
    assert time.perf_counter() - started < 5  # gave up shortly after the deadline


class Lags:
    """A check that still holds for ``lag_sim`` simulated seconds after the fault (the control
    plane has not applied it yet), then fails for ``outage_sim``, then holds again."""

    def __init__(self, c: DrillContext, lag_sim: float, outage_sim: float) -> None:
        self.c, self.down, self.up = c, c.now() + lag_sim, c.now() + lag_sim + outage_sim

    def __call__(self) -> tuple[bool, str]:
        ok = not self.down <= self.c.now() < self.up
        return ok, "holds" if ok else "broken"


def test_a_fault_meant_to_break_the_check_counts_recovery_only_after_the_break() -> None:
    # The CI failure this guards: egress looked fine right after the NAT's termination (the
    # network part had not applied it yet), so "restored" passed at once, 0 s after the fault.
    c = ctx()
    c.faults.append({"template": "f", "experiment_id": "e", "started_at": c.now()})
    v = recovers(c, "egress", Lags(c, 30.0, 60.0), deadline_s=240.0, must_break=True)
    assert v.ok and 90.0 <= v.value <= 150.0  # type: ignore[operator]
    c2 = ctx()
    c2.faults.append({"template": "f", "experiment_id": "e", "started_at": c2.now()})
    assert recovers(c2, "egress", Lags(c2, 30.0, 60.0), deadline_s=240.0).value == 0.0


def test_a_fault_that_never_breaks_what_it_must_fails_the_verdict() -> None:
    c = ctx()
    c.faults.append({"template": "f", "experiment_id": "e", "started_at": c.now()})
    v = recovers(c, "egress", lambda: (True, "egress works"), deadline_s=100.0,
                 must_break=True)
    assert not v.ok and v.value is None
    assert v.detail.startswith("never broke after the fault")


def test_the_steady_state_is_checked_before_any_fault() -> None:
    c = ctx()
    assert recovers(c, "egress", lambda: (True, "fine"), deadline_s=10).phase == "baseline"
    assert not recovers(c, "other", lambda: (False, "down"), deadline_s=10,
                        baseline_wait_s=5).ok


# -- the engine, journal, reports -----------------------------------------------------------
ROLLED_BACK: list[str] = []


def _fake_extension() -> str:
    """A provider module for a tiny playbook: a probe whose verdict fails after the method."""
    mod = types.ModuleType("drill_fake_extension")

    def verdict(ok_after: bool = True) -> dict[str, Any]:
        after = bool(ROLLED_BACK) or mod.method_ran  # type: ignore[attr-defined]
        ok = ok_after if after else True
        return {"invariant": "egress-restored", "ok": ok, "value": 300.0 if after else None,
                "unit": "s", "deadline": 240.0 if after else None,
                "detail": "route still a blackhole" if not ok else "fine",
                "phase": "recovery" if after else "baseline"}

    def act() -> str:
        mod.method_ran = True  # type: ignore[attr-defined]
        return "done"

    def rollback() -> None:
        ROLLED_BACK.append("stopped")

    def held(value: dict[str, Any] | None = None) -> bool:
        return bool((value or {}).get("ok"))

    mod.verdict, mod.act, mod.rollback, mod.held = verdict, act, rollback, held  # type: ignore
    mod.method_ran = False  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    return mod.__name__


def _playbook(module: str, ok_after: bool) -> dict[str, Any]:
    def py(func: str, **arguments: Any) -> dict[str, Any]:
        return {"type": "python", "module": module, "func": func, "arguments": arguments}

    return {
        "version": "1.0.0", "title": "fake", "description": "a fake drill",
        "steady-state-hypothesis": {"title": "t", "probes": [{
            "type": "probe", "name": "egress", "provider": py("verdict", ok_after=ok_after),
            "tolerance": {"type": "probe", "name": "held", "provider": py("held")}}]},
        "method": [{"type": "action", "name": "fault", "provider": py("act")}],
        "rollbacks": [{"type": "action", "name": "stop", "provider": py("rollback")}],
    }


def test_a_failed_invariant_fails_the_run_names_it_and_rollbacks_still_run(
        tmp_path: Path) -> None:
    from chaoslib.experiment import run_experiment

    ROLLED_BACK.clear()
    journal = run_experiment(_playbook(_fake_extension(), ok_after=False),
                             settings=runner.SETTINGS)
    assert journal["deviated"] is True
    assert ROLLED_BACK == ["stopped"]  # rollbacks ran after the failure
    [bad] = failed(journal)
    assert bad.name == "egress-restored" and bad.phase == "after"
    assert bad.line() == ("egress-restored: measured 300 s, deadline 240 s: "
                          "route still a blackhole")

    summary = RunSummary("fake", "fake", "a fake drill", False, journal["status"], 600.0, 6.0,
                         [bad.line()], [])
    runner.write_report(tmp_path, summary, outcomes(journal), journal, [], [], 0.0)
    suite = ET.fromstring((tmp_path / "junit.xml").read_text())
    assert suite.get("failures") == "1" and suite.get("tests") == "2"
    failure = suite.find("testcase[@name='egress-restored']/failure")
    assert failure is not None and "deadline 240 s" in failure.get("message", "")
    page = (tmp_path / "report.html").read_text()
    assert "FAILED" in page and "route still a blackhole" in page
    assert json.loads((tmp_path / "journal.json").read_text())["deviated"] is True


def test_a_held_invariant_completes_the_run() -> None:
    from chaoslib.experiment import run_experiment

    ROLLED_BACK.clear()
    journal = run_experiment(_playbook(_fake_extension(), ok_after=True),
                             settings=runner.SETTINGS)
    assert journal["status"] == "completed" and not journal["deviated"]
    assert failed(journal) == []
    assert ROLLED_BACK == ["stopped"]


def test_a_drill_run_gives_the_process_environment_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_drill points this process's AWS clients at the stack while it runs; after, the
    environment is what it was (a test worker that ran the drill first sent its later tests'
    ``mock_aws`` clients to the drill's stack: 82 errors in a clean-clone run)."""
    c = ctx()
    c.endpoint, c.state_dir = "http://127.0.0.1:1", tmp_path
    monkeypatch.setattr(runner.drill_context, "local_context", lambda state_dir: c)
    monkeypatch.setattr(runner, "wait_ready", lambda ctx, progress: None)
    monkeypatch.setattr(runner, "load", lambda name: _playbook(_fake_extension(), True))
    monkeypatch.setattr(runner.timeline, "collect", lambda ctx, samples: [])
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    seen: dict[str, str | None] = {}
    real_run = runner.Sampler.start

    def during(self: Any) -> None:  # what the playbook's providers see
        seen["endpoint"] = os.environ.get("AWS_ENDPOINT_URL")
        real_run(self)

    monkeypatch.setattr(runner.Sampler, "start", during)
    ROLLED_BACK.clear()
    run = runner.run_drill("fake", tmp_path, tmp_path / "report")
    assert run.summary.ok and seen["endpoint"] == "http://127.0.0.1:1"
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_REGION"] == "us-west-2"


# -- the shipped playbooks and the CLI ----------------------------------------------------------
def test_every_shipped_playbook_is_a_valid_experiment_that_says_what_it_proves() -> None:
    names = runner.playbooks()
    assert {"nat-failover", "az-loss", "dlq-replay", "task-crash", "workflow-failure",
            "orphan-scan"} <= set(names)
    for name in names:
        experiment = runner.load(name)
        assert "proves" in experiment["description"], name
        assert experiment["rollbacks"], name


def test_drill_cli_refuses_an_unknown_drill_in_one_line() -> None:
    result = CliRunner().invoke(drill, ["no-such-drill"])
    assert result.exit_code == 1
    assert "unknown drill 'no-such-drill'" in result.output
    assert "Traceback" not in result.output


def test_drill_cli_lists_the_playbooks() -> None:
    result = CliRunner().invoke(drill, ["--list"])
    assert result.exit_code == 0
    assert "nat-failover: NAT failover" in result.output


@pytest.mark.parametrize("args", [[], ["--report", "x"]])
def test_drill_cli_needs_a_name(args: list[str]) -> None:
    result = CliRunner().invoke(drill, args)
    assert result.exit_code == 1 and "name a drill" in result.output


def test_waiting_for_a_faults_action_waits_past_the_experiments_running_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GetExperiment shows the experiment ``running`` while its actions are ``initiating``
    (ExperimentActionState: pending | initiating | running | ...,
    https://docs.aws.amazon.com/fis/latest/APIReference/API_ExperimentActionState.html):
    a drill that needs the fault on waits for the action, not the experiment."""
    from tradai_sim.drills import context as context_module
    from tradai_sim.drills import extension

    c = ctx()
    answers = iter(["initiating", "initiating", "running"])
    calls: list[str] = []

    class Fis:
        def get_experiment(self, id: str) -> dict[str, Any]:
            status = next(answers)
            calls.append(status)
            return {"experiment": {"state": {"status": "running"}, "actions": {
                "Fail": {"state": {"status": status, "reason": ""}}}}}

    monkeypatch.setattr(context_module, "_current", c)
    monkeypatch.setattr(c, "client", lambda service: Fis())
    monkeypatch.setattr(extension.time, "sleep", lambda s: None)
    c.faults.append({"template": "t", "experiment_id": "EXP1", "started_at": c.now()})
    assert extension.wait_for_fault(state="running", action="Fail")["status"] == "running"
    assert calls == ["initiating", "initiating", "running"]
