"""Retry/Catch matching of error names (https://docs.aws.amazon.com/step-functions/latest/dg/
concepts-error-handling.html): States.ALL matches every error except the terminal
States.Runtime and States.DataLimitExceeded; States.Runtime is never matched."""

from __future__ import annotations

from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)

from tradai_sim.cloud.stepfunctions.error_matching import matches


def _s(name: str) -> StatesErrorName:
    return StatesErrorName.from_name(name)


def test_states_all_matches_everything_but_the_terminal_errors() -> None:
    catch_all = [_s("States.ALL")]
    assert matches(catch_all, _s("States.TaskFailed"))
    assert matches(catch_all, _s("States.Timeout"))
    assert matches(catch_all, CustomErrorName("RuntimeError"))
    assert not matches(catch_all, _s("States.Runtime"))
    assert not matches(catch_all, _s("States.DataLimitExceeded"))


def test_named_errors_match_by_name_and_states_runtime_never() -> None:
    assert matches([_s("States.DataLimitExceeded")], _s("States.DataLimitExceeded"))
    assert not matches([_s("States.Runtime")], _s("States.Runtime"))
    assert matches([CustomErrorName("ECS.AmazonECSException")],
                   CustomErrorName("ECS.AmazonECSException"))
    assert not matches([_s("States.Timeout")], _s("States.TaskFailed"))
    # States.TaskFailed also matches a task's own (non-States) errors, as moto had it
    assert matches([_s("States.TaskFailed")], CustomErrorName("RuntimeError"))
    assert not matches([_s("States.TaskFailed")], _s("States.Timeout"))
