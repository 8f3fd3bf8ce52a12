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
