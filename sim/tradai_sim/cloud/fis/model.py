"""Experiments and their actions as AWS FIS reports them: states, reasons, times, timeline.

States and their meaning follow the FIS user guide ("View your experiments") and the API's
ExperimentState / ExperimentActionState. Every change is checked against the allowed
transitions and recorded in the experiment's timeline (simulated and wall timestamps), which
the drill reports draw. Callers hold the executor's lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tradai.clock import Clock

# -- experiment ---------------------------------------------------------------------------
PENDING, INITIATING, RUNNING, COMPLETED = "pending", "initiating", "running", "completed"
STOPPING, STOPPED, FAILED = "stopping", "stopped", "failed"
CANCELLED, SKIPPED = "cancelled", "skipped"

EXPERIMENT_TERMINAL = frozenset({COMPLETED, STOPPED, FAILED})
ACTION_TERMINAL = frozenset({COMPLETED, CANCELLED, STOPPED, FAILED, SKIPPED})

EXPERIMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({INITIATING}),
    INITIATING: frozenset({RUNNING, STOPPING, FAILED}),
    RUNNING: frozenset({COMPLETED, STOPPING, FAILED}),
    STOPPING: frozenset({STOPPED, FAILED}),
}
ACTION_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({INITIATING, CANCELLED, SKIPPED}),
    INITIATING: frozenset({RUNNING, FAILED, STOPPING}),
    RUNNING: frozenset({COMPLETED, STOPPING, FAILED}),
    STOPPING: frozenset({STOPPED, FAILED}),
}

# Reasons AWS shows (AWS CLI examples for FIS); the others say what happened.
REASONS = {
    "experiment.initiating": "Experiment is initiating.",
    "experiment.running": "Experiment is running.",
    "experiment.completed": "Experiment completed.",
    "experiment.stopping": "Stopping Experiment.",
    "experiment.stopped": "Experiment stopped.",
    "action.pending": "Initial state",
    "action.completed": "Action was completed.",
    "action.cancelled": "The experiment stopped before the action started.",
    "action.stopping": "Stopping action.",
    "action.stopped": "Action was stopped.",
}


class IllegalTransition(RuntimeError):
    pass


@dataclass
class ActionRun:
    name: str
    action_id: str
    definition: dict[str, Any]  # as in the template: actionId, parameters, targets, startAfter
    status: str = PENDING
    reason: str = REASONS["action.pending"]
    start_time: float | None = None  # simulated epoch seconds
    end_time: float | None = None
    notes: list[str] = field(default_factory=list)  # what could not be undone, and why
    ending: bool = False  # end (undo) under way: a second end request is ignored
    injection: Any = None

    @property
    def start_after(self) -> list[str]:
        return list(self.definition.get("startAfter") or [])

    @property
    def terminal(self) -> bool:
        return self.status in ACTION_TERMINAL

    def api_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.definition.items()
               if k in ("actionId", "description", "parameters", "targets", "startAfter")}
        out["state"] = {"status": self.status, "reason": self.reason}
        if self.start_time is not None:
            out["startTime"] = self.start_time
        if self.end_time is not None:
            out["endTime"] = self.end_time
        return out


@dataclass
class ExperimentRun:
    id: str
    template_id: str
    definition: dict[str, Any]  # targets, actions, stopConditions, experimentOptions, roleArn
    clock: Clock
    seed: int
    tags: dict[str, str] = field(default_factory=dict)
    status: str = PENDING
    reason: str = "Experiment is pending."
    creation_time: float = 0.0
    start_time: float | None = None
    end_time: float | None = None
    actions: dict[str, ActionRun] = field(default_factory=dict)
    resolved: dict[str, list[Any]] = field(default_factory=dict)  # target name -> Resources
    timeline: list[dict[str, Any]] = field(default_factory=list)
    outcome: tuple[str, str] | None = None  # (final status, reason) once decided

    @classmethod
    def new(cls, experiment_id: str, template_id: str, definition: dict[str, Any], clock: Clock,
            seed: int, tags: dict[str, str] | None = None) -> ExperimentRun:
        run = cls(experiment_id, template_id, definition, clock, seed, dict(tags or {}))
        run.creation_time = run.start_time = clock.now()
        for name, act in (definition.get("actions") or {}).items():
            run.actions[name] = ActionRun(name, act.get("actionId", ""), act)
        run.event("experiment", PENDING, run.reason, seed=seed)
        return run

    @property
    def terminal(self) -> bool:
        return self.status in EXPERIMENT_TERMINAL

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.definition.get("experimentOptions") or {})

    # -- transitions ------------------------------------------------------------------------
    def to(self, status: str, reason: str) -> None:
        if status not in EXPERIMENT_TRANSITIONS.get(self.status, frozenset()):
            raise IllegalTransition(f"experiment {self.id}: {self.status} -> {status}")
        self.status, self.reason = status, reason
        if status in EXPERIMENT_TERMINAL:
            self.end_time = self.clock.now()
        self.event("experiment", status, reason)

    def action_to(self, action: ActionRun, status: str, reason: str) -> None:
        if status not in ACTION_TRANSITIONS.get(action.status, frozenset()):
            raise IllegalTransition(f"action {action.name}: {action.status} -> {status}")
        now = self.clock.now()
        if status == INITIATING:
            action.start_time = now
        if status in ACTION_TERMINAL:
            action.end_time = now
            if action.start_time is None:
                action.start_time = now
        action.status, action.reason = status, reason
        self.event("action", status, reason, action=action.name, action_id=action.action_id)

    def event(self, kind: str, status: str, reason: str, **detail: Any) -> None:
        sim = self.clock.now()
        self.timeline.append({"sim": sim, "sim_iso": _iso(sim), "wall": time.time(),
                              "wall_iso": _iso(time.time()), "kind": kind, "status": status,
                              "reason": reason, **detail})

    # -- views --------------------------------------------------------------------------------
    def api_fields(self) -> dict[str, Any]:
        """What GetExperiment reports, over moto's stored experiment."""
        out: dict[str, Any] = {
            "state": {"status": self.status, "reason": self.reason},
            "actions": {name: a.api_dict() for name, a in self.actions.items()},
            "creationTime": self.creation_time,
        }
        if self.start_time is not None:
            out["startTime"] = self.start_time
        if self.end_time is not None:
            out["endTime"] = self.end_time
        return out

    def history(self) -> dict[str, Any]:
        """The control route's view: everything a drill report needs to draw the run."""
        return {
            "id": self.id, "template_id": self.template_id, "tags": self.tags,
            "status": self.status, "reason": self.reason, "seed": self.seed,
            "start_time": self.start_time, "end_time": self.end_time,
            "actions": {n: {"action_id": a.action_id, "status": a.status, "reason": a.reason,
                            "start_time": a.start_time, "end_time": a.end_time,
                            "notes": list(a.notes)} for n, a in self.actions.items()},
            "resolved_targets": {t: [r.arn for r in rs] for t, rs in self.resolved.items()},
            "timeline": list(self.timeline),
        }


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
