"""Helpers for the FIS unit tests: an executor over fakes, on a fast simulated clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tradai.clock import Clock
from tradai.topology import default_topology
from tradai_sim.cloud.autoscaling.timers import SimTimers
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.fis.actions import registry
from tradai_sim.cloud.fis.actions.base import ActionEnv, ActionFailed, Injection
from tradai_sim.cloud.fis.api_faults import ApiFaultRules
from tradai_sim.cloud.fis.executor import Executor
from tradai_sim.cloud.fis.model import ExperimentRun
from tradai_sim.cloud.fis.targets import Resource

SCALE = 600.0  # one simulated minute = 0.1 wall seconds
ROLE = "arn:aws:iam::123456789012:role/tradai-local-fis"
ALARM = "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:tradai-local-backtest-dlq-not-empty"


def context(tmp_path: Path) -> CloudContext:
    return CloudContext(endpoint="http://127.0.0.1:1", region="eu-central-1", env="local",
                        clock=Clock(scale=SCALE), state_dir=tmp_path,
                        topology=default_topology())


class Recorder(Injection):
    """Records start/end; fails when its parameters say so (``tradai`` test hook)."""

    calls: list[tuple[str, str]] = []
    fail_start: set[str] = set()
    fail_end: set[str] = set()

    def start(self) -> None:
        Recorder.calls.append(("start", self.env.action_name))
        if self.env.action_name in Recorder.fail_start:
            raise ActionFailed(f"{self.env.action_name} cannot start")
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        Recorder.calls.append(("end", self.env.action_name))
        if self.env.action_name in Recorder.fail_end:
            raise ActionFailed("undo broke")
        self.notes.append("nothing left behind")


def wait_action(duration: str = "PT1M", after: list[str] | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"actionId": "aws:fis:wait", "parameters": {"duration": duration}}
    if after:
        action["startAfter"] = after
    return action


def definition(actions: dict[str, Any], targets: dict[str, Any] | None = None,
               stop: list[dict[str, Any]] | None = None, **options: Any) -> dict[str, Any]:
    return {"targets": targets or {}, "actions": actions, "roleArn": ROLE,
            "stopConditions": stop or [{"source": "none"}], "experimentOptions": options}


class Harness:
    def __init__(self, tmp_path: Path, resources: Mapping[str, list[Resource]] | None = None,
                 create: Callable[[ActionEnv], Injection] | None = None) -> None:
        self.ctx = context(tmp_path)
        self.alarms: dict[str, str] = {ALARM: "OK"}
        self.roles = {ROLE}
        self.resources = dict(resources or {})
        self.api_faults = ApiFaultRules()
        self.timers = SimTimers(self.ctx.clock, "fis-test-timers")
        Recorder.calls, Recorder.fail_start, Recorder.fail_end = [], set(), set()
        self.executor = Executor(
            self.ctx, self.timers, lambda name, t, rng: list(self.resources.get(name, [])),
            create or (lambda env: Recorder(env)), self.api_faults, self.alarms.get,
            lambda arn: arn in self.roles, base_seed=7)
        self.count = 0

    def start(self, definition: dict[str, Any], tags: dict[str, str] | None = None
              ) -> ExperimentRun:
        self.count += 1
        return self.executor.start(f"EXP{self.count}", "EXT1", definition, tags)


@contextmanager
def harness(tmp_path: Path, **kwargs: Any) -> Iterator[Harness]:
    h = Harness(tmp_path, **kwargs)
    h.timers.start()
    try:
        yield h
    finally:
        h.executor.shutdown()
        h.timers.stop()


def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for an event (polling a condition), failing after ``timeout`` wall seconds."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.time() < deadline, "condition not met in time"
        time.sleep(0.01)


def real(env: ActionEnv) -> Injection:
    return registry.create(env)
