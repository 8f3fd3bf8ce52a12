"""The FIS template validation of ``tradai.faults``: every bad input is refused with a message
naming its field path, as CreateExperimentTemplate refuses it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tradai.faults import ACTIONS, validate_template
from tradai.faults.durations import parse_duration
from tradai.faults.selection import parse_selection_mode

ROLE = "arn:aws:iam::123456789012:role/tradai-local-fis"
ALARM = "arn:aws:cloudwatch:eu-central-1:123456789012:alarm:tradai-local-backtest-dlq-not-empty"


def template(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "terminate the NAT instance",
        "roleArn": ROLE,
        "targets": {"Nat": {"resourceType": "aws:ec2:instance",
                            "resourceTags": {"Name": "tradai-local-nat"},
                            "filters": [{"path": "State.Name", "values": ["running"]}],
                            "selectionMode": "ALL"}},
        "actions": {"TerminateNat": {"actionId": "aws:ec2:terminate-instances",
                                     "targets": {"Instances": "Nat"}}},
        "stopConditions": [{"source": "none"}],
    }
    body.update(overrides)
    return body


def messages(body: dict[str, Any]) -> list[str]:
    return [str(i) for i in validate_template(body)]


def with_action(action: dict[str, Any], targets: dict[str, Any] | None = None) -> dict[str, Any]:
    body = template(actions={"A": action})
    if targets is not None:
        body["targets"] = targets
    return body


def test_a_valid_template_has_no_issues() -> None:
    assert messages(template()) == []


def test_unknown_action_id_is_refused_naming_the_action() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/action-sequence.html (action
    identifiers are those of the actions reference)"""
    body = with_action({"actionId": "aws:ec2:melt-instances", "targets": {"Instances": "Nat"}},
                       template()["targets"])
    assert messages(body) == ["actions.A.actionId: 'aws:ec2:melt-instances' is not a supported "
                              "action"]


def test_malformed_duration_is_refused_with_its_field_path() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html (durations
    are ISO 8601 strings, e.g. PT1M)"""
    body = with_action({"actionId": "aws:fis:wait", "parameters": {"duration": "two minutes"}},
                       {})
    assert messages(body) == ["actions.A.parameters.duration: 'two minutes' is not an ISO 8601 "
                              "duration (for example PT2M or PT30S)"]


@pytest.mark.parametrize("duration", ["PT30S", "PT13H", "P1D"])
def test_aws_action_durations_must_lie_between_one_minute_and_twelve_hours(duration: str) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    ("duration - The duration, from one minute to 12 hours")"""
    body = with_action({"actionId": "aws:fis:wait", "parameters": {"duration": duration}}, {})
    [msg] = messages(body)
    assert msg.startswith("actions.A.parameters.duration:") and "PT1M to PT12H" in msg


def test_harness_actions_accept_durations_under_a_minute() -> None:
    body = with_action({"actionId": "tradai:exchange:outage",
                        "parameters": {"duration": "PT30S"}}, {})
    assert messages(body) == []


def test_unknown_target_name_is_refused() -> None:
    body = with_action({"actionId": "aws:ec2:terminate-instances",
                        "targets": {"Instances": "Missing"}}, template()["targets"])
    assert "actions.A.targets.Instances: 'Missing' names no target of the template" in \
        messages(body)


def test_resource_type_that_does_not_fit_the_action_is_refused() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/targets.html ("the target must be the
    resource type supported by the action")"""
    targets = {"Subnets": {"resourceType": "aws:ec2:subnet", "resourceTags": {"Name": "x"},
                           "selectionMode": "ALL"}}
    body = with_action({"actionId": "aws:ec2:terminate-instances",
                        "targets": {"Instances": "Subnets"}}, targets)
    assert messages(body) == ["actions.A.targets.Instances: target 'Subnets' is of resource type "
                              "'aws:ec2:subnet'; aws:ec2:terminate-instances takes "
                              "aws:ec2:instance"]


def test_wrong_target_key_and_missing_required_target_are_refused() -> None:
    body = with_action({"actionId": "aws:ec2:terminate-instances", "targets": {"Tasks": "Nat"}},
                       template()["targets"])
    assert messages(body) == [
        "actions.A.targets.Tasks: is not a target key of aws:ec2:terminate-instances "
        "(allowed: Instances)",
        "actions.A.targets.Instances: is required by aws:ec2:terminate-instances"]


@pytest.mark.parametrize("mode", ["SOME", "COUNT(0)", "PERCENT(101)", "count(1)", None])
def test_bad_selection_mode_is_refused(mode: Any) -> None:
    """https://docs.aws.amazon.com/fis/latest/APIReference/API_CreateExperimentTemplateTargetInput.html
    (selectionMode: ALL, COUNT(n), PERCENT(n))"""
    body = template()
    body["targets"]["Nat"]["selectionMode"] = mode
    [msg] = messages(body)
    assert msg.startswith("targets.Nat.selectionMode: ")


def test_start_after_naming_no_action_is_refused() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/action-sequence.html (startAfter names
    actions that must complete first)"""
    body = with_action({"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"},
                        "startAfter": ["Nope"]}, {})
    assert messages(body) == ["actions.A.startAfter: 'Nope' names no action of the template"]


def test_start_after_cycle_is_refused() -> None:
    wait = {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}
    body = template(targets={}, actions={"A": {**wait, "startAfter": ["B"]},
                                         "B": {**wait, "startAfter": ["C"]},
                                         "C": {**wait, "startAfter": ["A"]}})
    [msg] = messages(body)
    assert "startAfter forms a cycle" in msg and "A" in msg and "C" in msg


def test_alarm_stop_condition_without_alarm_arn_is_refused() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html (source
    aws:cloudwatch:alarm with the alarm's ARN as value)"""
    body = template(stopConditions=[{"source": "aws:cloudwatch:alarm"}])
    assert messages(body) == ["stopConditions[0].value: None: a stop condition whose source is "
                              "aws:cloudwatch:alarm needs the alarm's ARN"]
    assert messages(template(stopConditions=[{"source": "aws:cloudwatch:alarm",
                                              "value": ALARM}])) == []


def test_filter_on_an_unsupported_path_is_refused() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/targets.html (resource filters: paths
    into the resource's describe output)"""
    body = template()
    body["targets"]["Nat"]["filters"] = [{"path": "Colour.Name", "values": ["blue"]}]
    [msg] = messages(body)
    assert msg.startswith("targets.Nat.filters[0].path: 'Colour.Name' is not a supported filter "
                          "path for aws:ec2:instance")


def test_target_needs_arns_or_tags_and_not_both() -> None:
    """https://docs.aws.amazon.com/fis/latest/APIReference/API_CreateExperimentTemplateTargetInput.html
    ("You must specify at least one ARN or at least one resource tag. You cannot specify
    both ARNs and tags.")"""
    body = template()
    body["targets"]["Nat"]["resourceArns"] = ["arn:aws:ec2:eu-central-1:1:instance/i-1"]
    assert messages(body) == ["targets.Nat: resourceArns and resourceTags cannot both be given"]
    del body["targets"]["Nat"]["resourceArns"], body["targets"]["Nat"]["resourceTags"]
    assert messages(body) == ["targets.Nat: needs resourceArns or resourceTags to identify its "
                              "resources"]


def test_ecs_tasks_may_be_identified_by_cluster_and_service_parameters() -> None:
    targets = {"T": {"resourceType": "aws:ecs:task", "selectionMode": "COUNT(1)",
                     "parameters": {"cluster": "c", "service": "s"}}}
    body = with_action({"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "T"}}, targets)
    assert messages(body) == []
    targets["T"]["parameters"] = {"service": "s", "colour": "x"}
    assert set(messages(body)) == {
        "targets.T.parameters.colour: is not a parameter of aws:ecs:task (allowed: cluster, "
        "service)",
        "targets.T.parameters.cluster: is required when service is given"}


def test_aws_api_error_injection_supports_only_the_ec2_namespace() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:fis:inject-api-internal-error: "service - The target AWS API namespace. The supported
    value is ec2")"""
    roles = {"R": {"resourceType": "aws:iam:role", "selectionMode": "ALL",
                   "resourceArns": ["arn:aws:iam::123456789012:role/x"]}}
    params = {"service": "states", "operations": "StartExecution", "percentage": "100",
              "duration": "PT5M"}
    body = with_action({"actionId": "aws:fis:inject-api-internal-error", "parameters": params,
                        "targets": {"Roles": "R"}}, roles)
    assert messages(body) == [
        "actions.A.parameters.service: 'states' is not supported by "
        "aws:fis:inject-api-internal-error; the supported value is ec2 (use "
        "tradai:fis:inject-api-internal-error for other namespaces)"]
    body["actions"]["A"]["actionId"] = "tradai:fis:inject-api-internal-error"
    assert messages(body) == []


@pytest.mark.parametrize("value", ["0", "101", "50%", "half"])
def test_percentages_lie_between_1_and_100(value: str) -> None:
    params = {"availabilityZoneIdentifiers": "eu-central-1a", "duration": "PT5M",
              "percentage": value}
    groups = {"G": {"resourceType": "aws:ec2:autoscaling-group", "selectionMode": "ALL",
                    "resourceTags": {"Name": "g"}}}
    body = with_action({"actionId": "aws:ec2:asg-insufficient-instance-capacity-error",
                        "parameters": params, "targets": {"AutoScalingGroups": "G"}}, groups)
    assert messages(body) == [f"actions.A.parameters.percentage: {value!r} is not a percentage "
                              "from 1 to 100"]


def test_disrupt_connectivity_scope_and_prefix_list() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:network:disrupt-connectivity: scope, prefixListIdentifier with scope prefix-list)"""
    subnets = {"S": {"resourceType": "aws:ec2:subnet", "selectionMode": "ALL",
                     "resourceTags": {"Name": "s"}}}

    def body(**params: str) -> dict[str, Any]:
        return with_action({"actionId": "aws:network:disrupt-connectivity",
                            "parameters": {"duration": "PT2M", **params},
                            "targets": {"Subnets": "S"}}, subnets)

    assert messages(body(scope="availability-zone")) == []
    assert messages(body(scope="galaxy")) == [
        "actions.A.parameters.scope: 'galaxy' is not one of all, availability-zone, dynamodb, "
        "prefix-list, s3"]
    assert messages(body(scope="prefix-list")) == [
        "actions.A.parameters.prefixListIdentifier: is required when scope is prefix-list"]
    assert messages(body(scope="prefix-list", prefixListIdentifier="pl-1")) == []


def test_parameters_must_be_known_strings_and_required_ones_present() -> None:
    body = with_action({"actionId": "aws:fis:wait", "parameters": {"duration": 60,
                                                                   "colour": "red"}}, {})
    assert messages(body) == [
        "actions.A.parameters.duration: 60 must be a string (FIS parameters are strings)",
        "actions.A.parameters.colour: is not a parameter of aws:fis:wait (allowed: duration)"]
    assert messages(with_action({"actionId": "aws:fis:wait"}, {})) == [
        "actions.A.parameters.duration: is required by aws:fis:wait"]


def test_top_level_requirements() -> None:
    body = template()
    for key in ("description", "roleArn", "actions", "stopConditions"):
        del body[key]
    body["colour"] = "red"
    assert {m.split(":")[0] for m in messages(body)} == {
        "colour", "description", "roleArn", "actions", "stopConditions"}


def test_empty_target_resolution_mode_is_fail_or_skip() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/experiment-options.html"""
    assert messages(template(experimentOptions={"emptyTargetResolutionMode": "skip"})) == []
    assert messages(template(experimentOptions={"emptyTargetResolutionMode": "ignore"})) == [
        "experimentOptions.emptyTargetResolutionMode: 'ignore' is not fail or skip"]


def test_every_action_has_an_implementation_and_harness_ids_are_prefixed() -> None:
    from tradai_sim.cloud.fis.actions.registry import INJECTIONS

    assert set(ACTIONS) == set(INJECTIONS)
    assert all(a.harness == a.action_id.startswith("tradai:") for a in ACTIONS.values())


def test_iso_durations_and_selection_modes_parse() -> None:
    assert parse_duration("PT2M") == 120 and parse_duration("PT30S") == 30
    assert parse_duration("PT1H30M") == 5400 and parse_duration("PT0.5S") == 0.5
    for bad in ("PT", "P", "2M", "PT2", "P1DT"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert str(parse_selection_mode("COUNT(3)")) == "COUNT(3)"
    assert parse_selection_mode("PERCENT(25)").n == 25


def test_validation_leaves_the_template_unchanged() -> None:
    body = template()
    before = copy.deepcopy(body)
    validate_template(body)
    assert body == before
