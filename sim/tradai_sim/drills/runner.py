"""Running one playbook with the Chaos Toolkit engine, and writing what it showed.

The engine (``chaoslib.run_experiment``) checks the steady state, runs the method, checks the
steady state again (the invariants with their deadlines) and always runs the rollbacks. Around
it the runner installs the drill's context, samples the stack for the picture, follows the
engine's events for live progress, and writes the report folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib.run import RunEventHandler

from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.drills import context as drill_context
from tradai_sim.drills import timeline
from tradai_sim.drills.reports.html import RunSummary, drill_page
from tradai_sim.drills.reports.junit import junit_xml
from tradai_sim.drills.reports.plot import recovery_png
from tradai_sim.drills.sampler import Sampler
from tradai_sim.drills.verdicts import Outcome, failed, outcomes
from tradai_sim.stack import readiness

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"
SETTINGS = {"runtime": {"rollbacks": {"strategy": "always"}}}
READY_TIMEOUT_WALL_S = 600.0  # MLflow's first start and the seed, on a busy machine

Progress = Callable[[str], None]


class DrillError(Exception):
    """A drill that cannot be run (unknown name, invalid playbook, stack not ready)."""


@dataclass
class DrillRun:
    summary: RunSummary
    outcomes: list[Outcome]
    journal: dict[str, Any]


def playbooks(directory: Path = SCENARIOS) -> dict[str, Path]:
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def load(name: str, directory: Path = SCENARIOS) -> dict[str, Any]:
    from chaoslib.exceptions import InvalidExperiment
    from chaoslib.experiment import ensure_experiment_is_valid
    from chaoslib.loader import load_experiment

    found = playbooks(directory)
    if name not in found:
        raise DrillError(f"unknown drill {name!r}; known: {', '.join(found) or 'none'} "
                         "(`tradai-sim drill --list`)")
    experiment = load_experiment(str(found[name]))
    try:
        ensure_experiment_is_valid(experiment)
    except InvalidExperiment as exc:
        raise DrillError(f"playbook {found[name]} is invalid: {exc}") from exc
    return dict(experiment)


def wait_ready(ctx: drill_context.DrillContext, progress: Progress) -> None:
    """The platform must be whole before a drill measures anything: every service healthy and
    the example strategies registered (what ``tradai-sim up`` waits for)."""
    deadline = time.time() + READY_TIMEOUT_WALL_S
    pending: list[readiness.Component] = []
    while time.time() < deadline:
        pending = [c for c in readiness.components(ctx.control("/status")) if not c.ready]
        if not pending:
            return
        progress("waiting for the stack: " + "; ".join(f"{c.name} ({c.detail})"
                                                       for c in pending))
        time.sleep(1.0)
    raise DrillError("the stack did not become ready: " + "; ".join(
        f"{c.name}: {c.detail}" for c in pending))


class _Follow(RunEventHandler):  # type: ignore[misc]
    """Live progress and the timeline's activity events, from the engine's events."""

    def __init__(self, ctx: drill_context.DrillContext, progress: Progress) -> None:
        self.ctx = ctx
        self.progress = progress

    def start_hypothesis_before(self, experiment: Any) -> None:
        self.progress("checking the steady state")

    def start_method(self, experiment: Any) -> None:
        self.ctx.event("activity", "method started")

    def start_hypothesis_after(self, experiment: Any) -> None:
        self.ctx.stop_load.set()
        self.ctx.event("activity", "checking the invariants")
        self.progress("checking the invariants")

    def start_rollbacks(self, experiment: Any) -> None:
        self.progress("rollbacks")

    def start_activity(self, activity: Any) -> None:
        self.progress(str(activity.get("name")))

    def activity_completed(self, activity: Any, run: Any) -> None:
        if activity.get("type") == "action":
            self.ctx.event("activity", f"{activity.get('name')}: {run.get('status')}")


def run_drill(name: str, state_dir: Path, report_dir: Path,
              progress: Progress = lambda msg: None) -> DrillRun:
    experiment = load(name)
    ctx = drill_context.local_context(state_dir)
    wait_ready(ctx, progress)
    # The playbook's providers (and botocore in this process) find the stack here; restored
    # after the run, so a caller's later AWS clients (a test worker's next tests) do not.
    told = {"AWS_ENDPOINT_URL": str(ctx.endpoint), "AWS_REGION": ctx.region,
            "AWS_DEFAULT_REGION": ctx.region, **EMULATOR_CREDENTIALS}
    saved = {k: os.environ.get(k) for k in told}
    os.environ.update(told)
    ctx.started_at = ctx.now()
    drill_context.install(ctx)
    sampler = Sampler(ctx)
    sampler.start()
    wall0 = time.perf_counter()
    try:
        from chaoslib.experiment import run_experiment

        journal = run_experiment(
            experiment, settings=SETTINGS,
            experiment_vars=({"tradai_state_dir": str(state_dir)}, {}),
            event_handlers=[_Follow(ctx, progress)])
    finally:
        samples = sampler.stop()
        drill_context.install(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    wall = time.perf_counter() - wall0
    outs = outcomes(journal)
    bad = failed(journal)
    ok = not bad and journal.get("status") == "completed" and not journal.get("deviated")
    summary = RunSummary(
        drill=name, title=str(experiment.get("title", name)),
        description=str(experiment.get("description", "")), ok=ok,
        status=str(journal.get("status")), simulated_s=ctx.now() - ctx.started_at,
        wall_s=wall, failures=[o.line() for o in bad] or (
            [] if ok else [f"run ended {journal.get('status')}: {_run_error(journal)}"]),
        notes=list(ctx.notes), report_dir=str(report_dir))
    write_report(report_dir, summary, outs, journal, timeline.collect(ctx, samples), samples,
                 ctx.started_at)
    return DrillRun(summary, outs, journal)


def write_report(report_dir: Path, summary: RunSummary, outs: list[Outcome],
                 journal: dict[str, Any], events: list[Any], samples: list[dict[str, Any]],
                 start: float) -> None:
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "journal.json").write_text(json.dumps(journal, indent=2, default=str))
    (report_dir / "junit.xml").write_text(junit_xml(summary.drill, outs, summary.wall_s))
    (report_dir / "samples.json").write_text(json.dumps(samples))
    picture = recovery_png(samples, events, start, report_dir / "recovery.png", summary.title)
    (report_dir / "report.html").write_text(
        drill_page(summary, outs, events, start, "recovery.png" if picture else None))
    (report_dir / "summary.json").write_text(json.dumps(summary.__dict__, indent=2))


def _run_error(journal: dict[str, Any]) -> str:
    for run in journal.get("run", []) + journal.get("rollbacks", []):
        if run.get("status") == "failed":
            name = run.get("activity", {}).get("name")
            return f"activity {name} failed: {str(run.get('exception', ''))[-300:]}"
    return "see the journal"
