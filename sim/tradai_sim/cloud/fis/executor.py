"""Runs experiments: the experiment and per-action state machines of AWS FIS.

- StartExperiment: ``pending`` -> ``initiating``; the role and stop-condition alarms are
  checked, every target is resolved (``failed`` when one resolves to nothing, unless
  ``emptyTargetResolutionMode`` is ``skip``: then the actions using it are ``skipped``), then
  ``running``.
- Actions start when every action in their ``startAfter`` is done; each holds its fault for
  its duration on the simulated clock, then ends (undo) and is ``completed``.
- StopExperiment or a stop condition in ALARM: ``stopping``; pending actions are
  ``cancelled``, running ones undo what can be undone (``stopping`` -> ``stopped``), then the
  experiment is ``stopped``. An action that fails fails the experiment the same way.

https://docs.aws.amazon.com/fis/latest/userguide/experiments.html
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from tradai.faults.catalog import ACTIONS
from tradai_sim.cloud.autoscaling.timers import SimTimers
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.fis import stop_conditions
from tradai_sim.cloud.fis.actions.base import ActionEnv, ActionFailed, Injection
from tradai_sim.cloud.fis.api_faults import ApiFaultRules
from tradai_sim.cloud.fis.model import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INITIATING,
    PENDING,
    REASONS,
    RUNNING,
    SKIPPED,
    STOPPED,
    STOPPING,
    ActionRun,
    ExperimentRun,
)
from tradai_sim.cloud.fis.targets import Resource

log = logging.getLogger(__name__)

SEED_TAG = "tradai:seed"  # StartExperiment tag fixing the run's random choices
Resolve = Callable[[str, Mapping[str, Any], random.Random], list[Resource]]
CreateInjection = Callable[[ActionEnv], Injection]
SHUTDOWN_WAIT_S = 15.0


class Executor:
    def __init__(self, ctx: CloudContext, timers: SimTimers, resolve: Resolve,
                 create: CreateInjection, api_faults: ApiFaultRules,
                 alarm_states: stop_conditions.AlarmStates, role_exists: Callable[[str], bool],
                 base_seed: int | None = None) -> None:
        self.ctx = ctx
        self.timers = timers
        self.resolve = resolve
        self.create = create
        self.api_faults = api_faults
        self.alarm_states = alarm_states
        self.role_exists = role_exists
        self.base_seed = base_seed
        self.lock = threading.RLock()
        self.runs: dict[str, ExperimentRun] = {}

    # -- API ----------------------------------------------------------------------------------
    def start(self, experiment_id: str, template_id: str, definition: dict[str, Any],
              tags: Mapping[str, str] | None = None) -> ExperimentRun:
        with self.lock:
            if experiment_id in self.runs:  # an idempotent retry of StartExperiment
                return self.runs[experiment_id]
            run = ExperimentRun.new(experiment_id, template_id, definition, self.ctx.clock,
                                    self.seed_for(experiment_id, tags or {}), dict(tags or {}))
            self.runs[experiment_id] = run
            run.to(INITIATING, "Experiment is initiating.")
        self._spawn(lambda: self._initiate(run), f"fis-init-{experiment_id[:8]}")
        return run

    def get(self, experiment_id: str) -> ExperimentRun | None:
        with self.lock:
            return self.runs.get(experiment_id)

    def stop(self, experiment_id: str) -> None:
        """StopExperiment."""
        run = self.get(experiment_id)
        if run is not None:
            self._stop(run, REASONS["experiment.stopping"], REASONS["experiment.stopped"])

    def check_stop_conditions(self) -> None:
        """Stop every experiment whose stop-condition alarm is in ALARM (called periodically)."""
        with self.lock:
            active = [r for r in self.runs.values()
                      if r.status in (INITIATING, RUNNING) and r.outcome is None]
        for run in active:
            reason = stop_conditions.triggered(run.definition.get("stopConditions") or [],
                                               self.alarm_states)
            if reason:
                self._stop(run, reason, _stopped_by(reason))

    def shutdown(self, reason: str = "The local cloud is shutting down.") -> None:
        """Stop every experiment and wait (bounded) for their faults to be undone."""
        with self.lock:
            active = [r for r in self.runs.values() if not r.terminal]
        for run in active:
            self._stop(run, reason, reason)
        deadline = time.time() + SHUTDOWN_WAIT_S
        while time.time() < deadline and any(not r.terminal for r in active):
            time.sleep(0.05)

    def seed_for(self, experiment_id: str, tags: Mapping[str, str]) -> int:
        with contextlib.suppress(KeyError, ValueError):
            return int(tags[SEED_TAG])
        if self.base_seed is not None:
            return self.base_seed
        return zlib.crc32(experiment_id.encode())

    def history(self, experiment_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            runs = [r for r in self.runs.values()
                    if experiment_id is None or r.id == experiment_id]
            return [r.history() for r in sorted(runs, key=lambda r: r.creation_time)]

    # -- initiation ---------------------------------------------------------------------------
    def _initiate(self, run: ExperimentRun) -> None:
        definition = run.definition
        problem = self._preflight(definition)
        if problem:
            with self.lock:
                self._fail(run, problem)
            return
        rng = random.Random(run.seed)
        resolved: dict[str, list[Resource]] = {}
        for name, target in sorted((definition.get("targets") or {}).items()):
            try:
                resolved[name] = self.resolve(name, target, rng)
            except Exception as exc:
                with self.lock:
                    self._fail(run, f"Target resolution failed for target {name!r}: {exc}")
                return
        with self.lock:
            run.resolved = resolved
            for name, resources in resolved.items():
                run.event("target", "resolved", f"{len(resources)} resource(s)", target=name,
                          resources=[r.arn for r in resources])
            if run.status != INITIATING or run.outcome is not None:
                self._settle(run)  # stopped while resolving
                return
            empty = sorted(n for n, rs in resolved.items() if not rs)
            skip = run.options.get("emptyTargetResolutionMode", "fail") == "skip"
            if empty and not skip:
                self._fail(run, "Target resolution returned no resources for target(s) "
                                f"{', '.join(repr(n) for n in empty)}.")
                return
            for action in run.actions.values():
                used = set((action.definition.get("targets") or {}).values())
                if definition.get("actionsMode") == "skip-all":
                    run.action_to(action, SKIPPED, "Skipped: the experiment's actionsMode is "
                                                   "skip-all.")
                elif used & set(empty):
                    run.action_to(action, SKIPPED,
                                  f"Skipped: target(s) {', '.join(sorted(used & set(empty)))} "
                                  "resolved to no resources (emptyTargetResolutionMode skip).")
            # An alarm already in ALARM stops the experiment before any fault is injected.
            alarm = stop_conditions.triggered(definition.get("stopConditions") or [],
                                              self.alarm_states)
            run.to(RUNNING, "Experiment is running.")
            if alarm:
                self._stop(run, alarm, _stopped_by(alarm))
                return
            self._advance(run)

    def _preflight(self, definition: Mapping[str, Any]) -> str | None:
        role = str(definition.get("roleArn", ""))
        if not self.role_exists(role):
            return f"Unable to assume role {role}: the role does not exist."
        missing = stop_conditions.missing(definition.get("stopConditions") or [],
                                          self.alarm_states)
        if missing:
            return f"Stop condition alarm(s) do not exist: {', '.join(missing)}."
        return None

    # -- actions --------------------------------------------------------------------------------
    def _advance(self, run: ExperimentRun) -> None:
        """Start every action whose predecessors are done; finish the run when all are."""
        if run.status == RUNNING and run.outcome is None:
            for action in run.actions.values():
                if action.status != PENDING:
                    continue
                before = [run.actions[n] for n in action.start_after if n in run.actions]
                if all(b.status in (COMPLETED, SKIPPED) for b in before):
                    run.action_to(action, INITIATING, "Action is initiating.")
                    self._spawn(lambda a=action: self._start_action(run, a),
                                f"fis-{action.name}"[:15])
        self._settle(run)

    def _start_action(self, run: ExperimentRun, action: ActionRun) -> None:
        spec = ACTIONS[action.action_id]
        targets = {key: run.resolved.get(name, [])
                   for key, name in (action.definition.get("targets") or {}).items()}
        env = ActionEnv(self.ctx, run.id, action.name, spec,
                        dict(action.definition.get("parameters") or {}), targets,
                        random.Random(f"{run.seed}:{action.name}"), self.api_faults)
        injection: Injection | None = None
        try:
            injection = self.create(env)
            injection.start()
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ActionFailed) else f"{type(exc).__name__}: {exc}"
            log.warning("FIS %s action %s failed: %s", run.id, action.name, reason)
            with self.lock:
                action.injection = injection
                run.action_to(action, FAILED, reason)
                self._fail(run, f"Action {action.name!r} ({action.action_id}) failed: {reason}")
            return
        try:
            detail = injection.detail()
        except Exception as exc:  # the report must never strand a started fault
            detail = {"error": f"{type(exc).__name__}: {exc}"}
        with self.lock:
            action.injection = injection
            run.event("action", "injected", action.action_id, action=action.name, detail=detail)
            stopping = action.status == STOPPING
            if not stopping:
                run.action_to(action, RUNNING, "")
                if injection.duration is not None and injection.duration > 0:
                    due = self.ctx.clock.now() + injection.duration
                    self.timers.at(due, lambda: self._spawn(
                        lambda: self._end_action(run, action, stopped=False), "fis-end"))
                    return
        self._end_action(run, action, stopped=stopping)

    def _end_action(self, run: ExperimentRun, action: ActionRun, stopped: bool) -> None:
        """The action's fault is over: undo it, then ``completed`` (or ``stopped``)."""
        with self.lock:
            if action.ending or action.terminal or (not stopped and action.status != RUNNING):
                return  # already ending, or a stop took over from the timer
            action.ending = True
        injection = action.injection
        error: str | None = None
        try:
            if injection is not None:
                injection.end()
        except Exception as exc:
            error = str(exc) if isinstance(exc, ActionFailed) else f"{type(exc).__name__}: {exc}"
        with self.lock:
            action.notes = list(injection.notes) if injection is not None else []
            notes = "".join(f" {n[:1].upper()}{n[1:]}." for n in action.notes)
            if error is not None:
                run.action_to(action, FAILED, f"Could not end the fault: {error}.{notes}")
                self._fail(run, f"Action {action.name!r} ({action.action_id}) failed: {error}")
            elif action.status == STOPPING:
                run.action_to(action, STOPPED, REASONS["action.stopped"] + notes)
            else:
                run.action_to(action, COMPLETED, REASONS["action.completed"] + notes)
            self._advance(run)

    # -- stopping and failing -------------------------------------------------------------------
    def _stop(self, run: ExperimentRun, stopping_reason: str, final_reason: str) -> None:
        with self.lock:
            if run.terminal or run.status == STOPPING or run.outcome is not None:
                return
            run.to(STOPPING, stopping_reason)
            run.outcome = (STOPPED, final_reason)
            self._wind_down(run, REASONS["action.cancelled"])

    def _fail(self, run: ExperimentRun, reason: str) -> None:
        if run.terminal or (run.outcome is not None and run.outcome[0] == FAILED):
            return
        run.outcome = (FAILED, reason)
        run.event("experiment", "failing", reason)
        self._wind_down(run, "The experiment failed before the action started.")

    def _wind_down(self, run: ExperimentRun, cancel_reason: str) -> None:
        for action in run.actions.values():
            if action.status == PENDING:
                run.action_to(action, CANCELLED, cancel_reason)
            elif action.status == INITIATING:
                run.action_to(action, STOPPING, REASONS["action.stopping"])  # ends once started
            elif action.status == RUNNING:
                run.action_to(action, STOPPING, REASONS["action.stopping"])
                self._spawn(lambda a=action: self._end_action(run, a, stopped=True), "fis-stop")
        self._settle(run)

    def _settle(self, run: ExperimentRun) -> None:
        """Every action done: the experiment takes its final state."""
        if run.terminal or any(not a.terminal for a in run.actions.values()):
            return
        if run.outcome is not None:
            status, reason = run.outcome
        elif run.status == RUNNING:
            status, reason = COMPLETED, REASONS["experiment.completed"]
        else:
            return
        run.to(status, reason)

    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        def guarded() -> None:
            try:
                fn()
            except Exception:
                log.exception("FIS worker %s failed", name)

        threading.Thread(target=guarded, name=name, daemon=True).start()


def _stopped_by(trigger: str) -> str:
    return trigger.replace("Stop condition triggered", "Experiment stopped by stop condition")
