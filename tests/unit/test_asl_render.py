from __future__ import annotations

import json

import pytest

from tradai.topology import default_topology
from tradai.workflows.render import AslRenderError, load_asl, placeholders, render_asl


def test_backtest_workflow_has_the_pattern_2_states() -> None:
    asl = load_asl("backtest_workflow.asl.json")
    assert asl["StartAt"] == "ValidateStrategy"
    states = asl["States"]
    assert states["RunBacktest"]["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert states["HandleSuccess"]["Type"] == "Parallel"
    assert states["CleanupResources"]["Next"] == "UpdateStatusFailed"


def test_every_lambda_placeholder_names_a_spec_lambda() -> None:
    names = {fn.name for fn in default_topology().lambdas}
    for machine in default_topology().state_machines:
        for p in placeholders(load_asl(machine.asl)):
            if p.startswith("Lambda:"):
                assert p.split(":", 1)[1] in names, (machine.name, p)


def test_render_fills_lists_and_refuses_missing_values() -> None:
    asl = {"A": {"Subnets": "${PrivateSubnets}", "F": "${Lambda:x}"}}
    out = json.loads(render_asl(asl, {"PrivateSubnets": ["s1", "s2"], "Lambda:x": "arn"}))
    assert out == {"A": {"Subnets": ["s1", "s2"], "F": "arn"}}
    with pytest.raises(AslRenderError, match="PrivateSubnets"):
        render_asl(asl, {"Lambda:x": "arn"})


def _retried(state: dict, error: str) -> bool:
    """Whether a Retrier of the state catches ``error`` (States.ALL or the name itself)."""
    return any(error in r["ErrorEquals"] or "States.ALL" in r["ErrorEquals"]
               for r in state.get("Retry", []) if r.get("MaxAttempts", 3) > 0)


@pytest.mark.parametrize("error", ["Sandbox.Timedout", "Lambda.Unknown",
                                   "Lambda.TooManyRequestsException", "RegistryUnavailable"])
def test_a_validation_that_timed_out_or_met_a_transient_error_is_tried_again(error: str) -> None:
    """A 1,000-submission benchmark failed two backtests whose validation's cold start outlasted
    its 30 s timeout on a loaded host. A timeout is "Lambda.Unknown" in Step Functions' docs
    (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html) and
    the runtime's errorType "Sandbox.Timedout"; validating is a read, so trying again is safe."""
    assert _retried(load_asl("backtest_workflow.asl.json")["States"]["ValidateStrategy"], error)


@pytest.mark.parametrize("error", ["InvalidStrategy", "States.TaskFailed", "ValueError"])
def test_a_deterministic_validation_failure_is_not_tried_again(error: str) -> None:
    assert not _retried(load_asl("backtest_workflow.asl.json")["States"]["ValidateStrategy"],
                        error)
