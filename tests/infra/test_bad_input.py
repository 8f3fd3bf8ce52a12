"""Bad stack config or an unmappable spec entry fails with a message naming the setting,
before any resource is declared."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pulumi
import pytest
import yaml

from tests.infra.mocks import RecordingMocks, run_program
from tradai.topology import Topology
from tradai_infra.config import load_settings
from tradai_infra.errors import InfraConfigError, SpecMappingError

INFRA = Path(__file__).resolve().parents[2] / "infra"
GOOD = {"aws:region": "eu-central-1",
        "tradai:availabilityZones": '["eu-central-1a", "eu-central-1b"]',
        "tradai:image": "tradai-dev-platform:0.1.0"}


def getter(values: dict[str, str]) -> Any:
    return values.get


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_load(stack: str):
    """Pulumi.<stack>.yaml as the CLI would hand it over (structured values as JSON)."""
    raw = yaml.safe_load((INFRA / f"Pulumi.{stack}.yaml").read_text())["config"]
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    settings = load_settings(stack, flat.get)
    assert settings.region == "eu-central-1"
    assert settings.azs == ("eu-central-1a", "eu-central-1b")
    assert settings.is_production == (stack == "prod")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({**GOOD, "aws:region": ""}, "aws:region is not set"),
        ({k: v for k, v in GOOD.items() if k != "tradai:availabilityZones"},
         "tradai:availabilityZones is not set"),
        ({**GOOD, "tradai:availabilityZones": '["eu-central-1a"]'},
         "exactly 2 availability zones, got 1"),
        ({**GOOD, "tradai:availabilityZones": '["eu-central-1a","eu-central-1b","eu-central-1c"]'},
         "exactly 2 availability zones, got 3"),
        ({**GOOD, "tradai:availabilityZones": '["us-east-1a", "us-east-1b"]'},
         "'us-east-1a' is not a zone of aws:region 'eu-central-1'"),
        ({**GOOD, "tradai:availabilityZones": '["eu-central-1a", "eu-central-1a"]'},
         "must differ"),
        ({**GOOD, "tradai:availabilityZones": "eu-central-1a"}, "expected a list"),
        ({**GOOD, "tradai:lambdaLayers": '{"a": 1}'}, "tradai:lambdaLayers: expected a list"),
    ],
)
def test_bad_stack_config_names_the_setting(values: dict[str, str], message: str):
    with pytest.raises(InfraConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_settings("dev", getter(values))


def _replace(entries: list, name: str, **update: Any) -> list:
    return [e.model_copy(update=update) if e.name == name else e for e in entries]


def _deploy_fails(topo: Topology, settings: Any, error: type[Exception], message: str) -> None:
    from tradai_infra.program import deploy

    # Registration reaches the mocks asynchronously, so record constructor calls directly.
    declared: list[str] = []
    original = pulumi.Resource.__init__

    def recording_init(self: pulumi.Resource, t: str, name: str, *args: Any, **kw: Any) -> None:
        if t != "pulumi:pulumi:Stack":  # the runtime's root resource, not the program's
            declared.append(f"{t} {name}")
        original(self, t, name, *args, **kw)

    mocks = RecordingMocks()
    with patch.object(pulumi.Resource, "__init__", recording_init), \
            pytest.raises(error, match=message):
        run_program(lambda: deploy(settings, topo), mocks)
    assert declared == [] and mocks.resources == [], "resources were declared before the error"


def test_unknown_trigger_type_names_the_lambda(topo: Topology, settings: Any):
    bad = topo.model_copy(update={"lambdas": _replace(
        topo.lambdas, "orphan-scanner", trigger=SimpleNamespace(type="kinesis"))})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"lambdas\['orphan-scanner'\]\.trigger\.type 'kinesis' cannot be deployed")


def test_route_to_a_service_the_alb_does_not_front(topo: Topology, settings: Any):
    routes = [r.model_copy(update={"service": "data-collection"}) if r.path == "/mlflow/*" else r
              for r in topo.edge.routes]
    bad = topo.model_copy(update={"edge": topo.edge.model_copy(update={"routes": routes})})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"edge\.routes\['/mlflow/\*'\] targets service 'data-collection'")


def test_a_new_lambda_without_an_access_entry(topo: Topology, settings: Any):
    """The issue's bad input: a function whose policy the spec does not give. The loader
    refuses such a spec file (tests/unit/test_topology_spec.py); a Topology built in code
    is refused by the program before any resource is declared."""
    extra = topo.lambda_("health-check").model_copy(update={"name": "new-fn", "access": None})
    bad = topo.model_copy(update={"lambdas": [*topo.lambdas, extra]})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"lambdas\['new-fn'\]: no access; declare what it reads and writes")


def test_an_access_naming_a_resource_the_spec_lacks(topo: Topology, settings: Any):
    fn = topo.lambda_("health-check")
    access = fn.access.model_copy(update={"topics": ("alerts", "pager")})  # type: ignore[union-attr]
    bad = topo.model_copy(update={"lambdas": _replace(topo.lambdas, "health-check",
                                                       access=access)})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"lambdas\['health-check'\]\.access\.topics names 'pager', which the spec "
                  r"does not declare")


def test_asl_invoking_a_lambda_not_triggered_by_that_machine(topo: Topology, settings: Any):
    # validate-strategy is only declared for the backtest workflow; drop that and the
    # backtest ASL references a function the spec does not wire to it.
    trigger = topo.lambda_("validate-strategy").trigger.model_copy(
        update={"state_machines": ["retraining-workflow"]})
    bad = topo.model_copy(update={"lambdas": _replace(topo.lambdas, "validate-strategy",
                                                      trigger=trigger)})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"invokes Lambda 'validate-strategy', which the spec does not declare")


def test_a_required_function_without_handler_code_refuses_the_deployment(
        topo: Topology, settings: Any):
    bad = topo.model_copy(update={"lambdas": _replace(
        topo.lambdas, "orphan-scanner", handler="tradai.lambdas.no_such_module.handler")})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"required Lambda functions have no handler module in tradai, so they cannot "
                  r"be deployed: orphan-scanner \(tradai\.lambdas\.no_such_module\.handler\)")


def test_unsupported_rate_window_and_alarm_namespace(topo: Topology, settings: Any):
    rate = topo.edge.rate_limit.model_copy(update={"per_seconds": 3600})
    bad = topo.model_copy(update={"edge": topo.edge.model_copy(update={"rate_limit": rate})})
    _deploy_fails(bad, settings, SpecMappingError, r"edge\.rate_limit\.per_seconds 3600")
    alarms = _replace(topo.alarms, "backtest-dlq-not-empty", namespace="AWS/Lambda")
    bad = topo.model_copy(update={"alarms": alarms})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"alarms\['backtest-dlq-not-empty'\]\.namespace 'AWS/Lambda'")


def test_settings_with_other_az_count_than_spec(topo: Topology, settings: Any):
    three = settings.__class__(env="dev", region="eu-central-1",
                               azs=("eu-central-1a", "eu-central-1b", "eu-central-1c"),
                               image=settings.image)
    _deploy_fails(topo, three, InfraConfigError, "tradai:availabilityZones lists 3 zones")
