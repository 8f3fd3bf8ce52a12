"""The shape of one running action: ``start`` injects the fault, ``end`` undoes what can be
undone (when its duration has passed or the experiment stops) and leaves in ``notes`` what
could not be (terminated is terminated)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradai.faults.catalog import ActionSpec
from tradai.faults.durations import parse_duration
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.fis.api_faults import ApiFaultRules
from tradai_sim.cloud.fis.targets import Resource


class ActionFailed(RuntimeError):
    """The action cannot do its work; the message is the action's ``failed`` reason."""


@dataclass
class ActionEnv:
    ctx: CloudContext
    experiment_id: str
    action_name: str
    spec: ActionSpec
    parameters: Mapping[str, str]
    targets: Mapping[str, list[Resource]]  # by target key (Instances, Tasks, ...)
    rng: random.Random
    api_faults: ApiFaultRules

    @property
    def label(self) -> str:
        return f"fis:{self.experiment_id}:{self.action_name}"

    def param(self, name: str) -> str | None:
        return self.spec.value(self.parameters, name)

    def seconds(self, name: str) -> float | None:
        value = self.param(name)
        return parse_duration(value) if value is not None else None

    def resources(self, key: str) -> list[Resource]:
        return list(self.targets.get(key, []))


@dataclass
class Injection:
    """Base class: an action with nothing to undo that completes once started."""

    env: ActionEnv
    # Simulated seconds the fault holds before ``end``; None: complete once ``start`` returns.
    duration: float | None = None
    notes: list[str] = field(default_factory=list)

    def start(self) -> None:
        raise NotImplementedError

    def end(self) -> None:
        """Undo what can be undone; add a note for what cannot."""

    def detail(self) -> dict[str, Any]:
        """What the action did, for the experiment's timeline."""
        return {}
