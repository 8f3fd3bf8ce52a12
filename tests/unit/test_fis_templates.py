"""Fault templates as files: loading, placeholder rendering for a deployment, classification,
and the shipped templates in scenarios/faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradai.faults import RenderContext, TemplateError, classify, load_templates, render
from tradai.faults import validate_template as validate
from tradai.faults.templates import default_directory

CTX = RenderContext(project="tradai", env="local", region="eu-central-1", account="123456789012")


def test_placeholders_render_to_the_deployments_names_and_arns() -> None:
    body = {"a": ["${project}-${env}", "${region}:${account}"], "b": {
        "name": "${name:public-a}", "az": "${az:b}", "alarm": "${alarm:backtest-dlq-not-empty}",
        "role": "${role:backtest-consumer-fn}", "queue": "${queue:backtest-queue.fifo}",
        "topic": "${topic:alerts}", "fis": "${fis_role_arn}"}, "n": 3}
    assert render(body, CTX) == {"a": ["tradai-local", "eu-central-1:123456789012"], "b": {
        "name": "tradai-local-public-a", "az": "eu-central-1b",
        "alarm": "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:"
                 "tradai-local-backtest-dlq-not-empty",
        "role": "arn:aws:iam::123456789012:role/tradai-local-backtest-consumer-fn",
        "queue": "arn:aws:sqs:eu-central-1:123456789012:tradai-local-backtest-queue.fifo",
        "topic": "arn:aws:sns:eu-central-1:123456789012:tradai-local-alerts",
        "fis": "arn:aws:iam::123456789012:role/tradai-local-fis"}, "n": 3}


@pytest.mark.parametrize("placeholder", ["${colour}", "${name}", "${az:ab}", "${role:}",
                                         "${project:x}"])
def test_unknown_placeholder_names_the_template_and_field_path(placeholder: str) -> None:
    body = {"actions": {"Stop": {"parameters": {"duration": placeholder}}}}
    with pytest.raises(TemplateError) as err:
        render(body, CTX, "nat-stop")
    assert str(err.value).startswith(f"template 'nat-stop': actions.Stop.parameters.duration: "
                                     f"unknown placeholder {placeholder}")


def test_placeholders_in_lists_name_their_index() -> None:
    with pytest.raises(TemplateError, match=r"stopConditions\[1\]\.value"):
        render({"stopConditions": [{"source": "none"}, {"value": "${nope:x}"}]}, CTX, "t")


def test_templates_with_a_harness_action_are_harness_else_aws() -> None:
    aws = {"actions": {"A": {"actionId": "aws:fis:wait"}}}
    mixed = {"actions": {"A": {"actionId": "aws:fis:wait"},
                         "B": {"actionId": "tradai:exchange:outage"}}}
    assert classify(aws) == "aws" and classify(mixed) == "harness"


def test_templates_load_from_a_directory_by_file_stem(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps({"description": "d", "actions": {}}))
    (tmp_path / "notes.txt").write_text("not a template")
    found = load_templates(tmp_path)
    assert list(found) == ["one"] and found["one"].description == "d"
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(TemplateError, match="'broken'"):
        load_templates(tmp_path)


REQUIRED = {"nat-instance-termination": "aws", "nat-instance-stop": "aws",
            "service-task-stop": "aws", "az-a-network-disruption": "aws",
            "az-a-power-interruption": "aws", "nat-hook-ec2-api-errors": "aws",
            "consumer-start-execution-errors": "harness", "exchange-outage": "harness",
            "exchange-429-storm": "harness", "exchange-latency": "harness",
            "task-freeze": "harness", "backtest-queue-poison": "harness",
            "mlflow-database-down": "harness", "az-a-outage": "harness"}


def test_shipped_templates_render_and_validate_for_the_local_and_another_env() -> None:
    found = load_templates(default_directory())
    assert {n: t.kind for n, t in found.items() if n in REQUIRED} == REQUIRED
    for env in ("local", "prod"):
        ctx = RenderContext("tradai", env, "eu-central-1", "210987654321")
        for name, tpl in found.items():
            body = tpl.render(ctx)
            assert validate(body) == [], name
            text = json.dumps(body)
            assert "${" not in text and (env == "local" or "tradai-local" not in text), name
            assert len(tpl.description) > 60, f"{name}: describe it for a reviewer"


def test_power_interruption_composes_the_aws_scenario_actions() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/az-availability-scenario.html"""
    body = load_templates(default_directory())["az-a-power-interruption"].render(CTX)
    ids = {a["actionId"] for a in body["actions"].values()}
    assert ids == {"aws:network:disrupt-connectivity", "aws:ec2:stop-instances",
                   "aws:ec2:asg-insufficient-instance-capacity-error", "aws:ecs:stop-task"}
    assert body["experimentOptions"] == {"emptyTargetResolutionMode": "skip"}
