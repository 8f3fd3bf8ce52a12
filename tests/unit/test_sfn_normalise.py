"""Step Functions' optimised-integration normalisation, rebuilt from botocore's shapes."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (  # noqa: E501
    StateTaskServiceEcs,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (  # noqa: E501
    StateTaskServiceLambda,
)

from tradai_sim.cloud.stepfunctions import normalise
from tradai_sim.cloud.stepfunctions.ecs_sync import task_failure


@pytest.fixture(autouse=True)
def patched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the two normalisation patches, undone after each test."""
    cls = state_task_service.StateTaskService
    monkeypatch.setattr(cls, "_normalise_parameters", normalise.normalise_parameters)
    monkeypatch.setattr(cls, "_normalise_response", normalise.normalise_response)


def _state(cls: type, api_name: str, api_action: str) -> Any:
    state = cls()
    state.resource = SimpleNamespace(api_name=api_name, api_action=api_action,
                                     resource_arn=f"arn:aws:states:::{api_name}:{api_action}")
    return state


def test_run_task_parameters_take_the_api_member_names() -> None:
    params = {
        "Cluster": "c", "TaskDefinition": "td", "LaunchType": "FARGATE",
        "StartedBy": "AWS Step Functions",
        "NetworkConfiguration": {"AwsvpcConfiguration": {
            "Subnets": ["s1", "s2"], "SecurityGroups": ["sg"], "AssignPublicIp": "DISABLED"}},
        "Overrides": {"ContainerOverrides": [{
            "Name": "strategy", "Command": ["python", "-m", "x"],
            "Environment": [{"Name": "JOB_ID", "Value": "j1"}]}]},
    }
    _state(StateTaskServiceEcs, "ecs", "runTask")._normalise_parameters(params)
    assert params == {
        "cluster": "c", "taskDefinition": "td", "launchType": "FARGATE",
        "startedBy": "AWS Step Functions",
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": ["s1", "s2"], "securityGroups": ["sg"], "assignPublicIp": "DISABLED"}},
        "overrides": {"containerOverrides": [{
            "name": "strategy", "command": ["python", "-m", "x"],
            "environment": [{"name": "JOB_ID", "value": "j1"}]}]},
    }


def test_describe_tasks_response_becomes_pascal_case() -> None:
    response = {"tasks": [{"taskArn": "arn:t", "clusterArn": "arn:c", "lastStatus": "STOPPED",
                           "stopCode": "EssentialContainerExited",
                           "containers": [{"name": "strategy", "exitCode": 3}]}],
                "failures": []}
    _state(StateTaskServiceEcs, "ecs", "runTask")._normalise_response(
        response, service_action_name="describe_tasks")
    assert response == {"Tasks": [{"TaskArn": "arn:t", "ClusterArn": "arn:c",
                                   "LastStatus": "STOPPED",
                                   "StopCode": "EssentialContainerExited",
                                   "Containers": [{"Name": "strategy", "ExitCode": 3}]}],
                        "Failures": []}


def test_timestamps_become_epoch_milliseconds() -> None:
    from datetime import UTC, datetime

    response = {"tasks": [{"taskArn": "arn:t", "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
                           "containers": [{"name": "c"}]}]}
    _state(StateTaskServiceEcs, "ecs", "runTask")._normalise_response(
        response, service_action_name="describe_tasks")
    assert response["Tasks"][0]["CreatedAt"] == 1767225600000
    json.dumps(response)  # the execution's output must be JSON


def test_lambda_subclass_still_casts_the_payload_first() -> None:
    params = {"FunctionName": "f", "Payload": {"a": 1}}
    _state(StateTaskServiceLambda, "lambda", "invoke")._normalise_parameters(params)
    assert params["FunctionName"] == "f"
    assert json.loads(params["Payload"]) == {"a": 1}


def test_unknown_operation_is_left_alone() -> None:
    params = {"Cluster": "c"}
    _state(StateTaskServiceEcs, "ecs", "noSuchAction")._normalise_parameters(params)
    assert params == {"Cluster": "c"}


@pytest.mark.parametrize(("task", "failed"), [
    ({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 0}]}, False),
    ({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 2}]}, True),
    ({"StopCode": "UserInitiated", "Containers": [{"ExitCode": 143}]}, True),
    ({"StopCode": "TaskFailedToStart", "Containers": [{}]}, True),
])
def test_run_task_sync_fails_unless_the_essential_container_exited_0(
        task: dict[str, Any], failed: bool) -> None:
    assert (task_failure(task) is not None) is failed


@pytest.mark.parametrize(("path", "expected"), [
    ("$.Containers[0].ExitCode", 0),  # AWS: one value; moto alone gives [0]
    ("$.Containers[*].ExitCode", [0, 5]),
    ("$.Containers[0:1]", [{"ExitCode": 0}]),
    ("$.P[?(@.Name=='x')].Value", ["v"]),
    ("$.a.b", [1, 2]),
])
def test_definite_paths_yield_one_value(path: str, expected: Any) -> None:
    from moto.stepfunctions.parser.asl.utils import json_path as moto_json_path

    from tradai_sim.cloud.stepfunctions.json_path import extract_json

    data = {"Containers": [{"ExitCode": 0}, {"ExitCode": 5}], "a": {"b": [1, 2]},
            "P": [{"Name": "x", "Value": "v"}]}
    assert extract_json(moto_json_path.extract_json)(path, data) == expected
