"""An instance launched into a group with a launch hook is never seen InService before the
hook lets it go: AWS puts it in Pending, then Pending:Wait
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html).
moto appends each new instance InService and the controller held it afterwards, so a
Describe between the two saw InService (a conformance test did, ci62)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tradai_sim.cloud.autoscaling import moto_hooks


class Controller:
    def __init__(self, hooks: list[str]) -> None:
        self.hooks = hooks
        self.launched_states: list[str] = []
        self.launched_hooks: list[str] | None = None
        self.looks = 0

    def launch_hooks(self, group: str) -> list[str]:
        self.looks += 1
        return self.hooks

    def pick_subnet(self, group: Any, subnets: list[str]) -> str:
        return subnets[0]

    def launched(self, group: Any, states: list[Any], hooks: list[str]) -> None:
        self.launched_states = [s.lifecycle_state for s in states]
        self.launched_hooks = hooks


def launch(controller: Controller) -> tuple[list[str], Any]:
    """Runs the patched launch around a stand-in for moto's: it appends an InService state,
    and a reader looks at the group's list right after the append (a concurrent Describe)."""
    group = SimpleNamespace(name="g", vpc_zone_identifier="subnet-a,subnet-b",
                            instance_states=[])
    seen: list[str] = []

    def original(self: Any, count: int, tags: dict[str, str]) -> None:
        for _ in range(count):
            self.instance_states.append(SimpleNamespace(lifecycle_state="InService"))
            seen.extend(s.lifecycle_state for s in self.instance_states)

    moto_hooks.replace_autoscaling_group_instances(original)(group, 2, {})
    return seen, group


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch) -> Controller:
    c = Controller(["launch"])
    monkeypatch.setattr(moto_hooks, "_controller", c)
    return c


def test_a_hooked_launch_is_never_listed_in_service(controller: Controller) -> None:
    seen, group = launch(controller)
    assert seen == ["Pending:Wait"] * 3  # after the first append: 1; after the second: 2
    assert type(group.instance_states) is list and len(group.instance_states) == 2
    assert controller.launched_states == ["Pending:Wait", "Pending:Wait"]


def test_without_a_launch_hook_moto_puts_the_instance_in_service(
        controller: Controller) -> None:
    controller.hooks = []
    seen, group = launch(controller)
    assert seen == ["InService"] * 3
    assert type(group.instance_states) is list


def test_the_hooks_are_looked_up_once_per_launch(controller: Controller) -> None:
    """A hook deleted while moto launches must not leave the held instances without an
    action: the controller gets the hooks the launch held them for."""
    original_lookup = controller.launch_hooks

    def deleted_after_first_look(group: str) -> list[str]:
        found = original_lookup(group)
        controller.hooks = []  # DeleteLifecycleHook, concurrently
        return found

    controller.launch_hooks = deleted_after_first_look  # type: ignore[method-assign]
    launch(controller)
    assert controller.looks == 1
    assert controller.launched_hooks == ["launch"]
    assert controller.launched_states == ["Pending:Wait", "Pending:Wait"]
