"""Step Functions executions of real ASL: lambda:invoke with Retry, ecs:runTask.sync, Catch."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import pytest

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for

# Fails the first FAIL_TIMES calls for each key; the count lives in a file (workers are
# separate processes, and a retry may land on another one).
FLAKY = """
import os, pathlib
def handler(event, context):
    counter = pathlib.Path(os.environ["STATE_DIR"]) / event["key"]
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    if n <= int(os.environ["FAIL_TIMES"]):
        raise RuntimeError(f"attempt {n} fails")
    return {"attempt": n}
"""

JOB = """
import os, sys
sys.exit(int(os.environ["EXIT_CODE"]))
"""


def definition(flaky_arn: str, cluster: str, task_def: str, subnets: list[str],
               sg: str) -> dict[str, Any]:
    return {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": flaky_arn, "Payload.$": "$"},
                "ResultSelector": {"attempt.$": "$.Payload.attempt"},
                "ResultPath": "$.prepared",
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1,
                           "MaxAttempts": 3, "BackoffRate": 1}],
                "Next": "RunJob",
            },
            "RunJob": {
                "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
                "Parameters": {
                    "Cluster": cluster, "TaskDefinition": task_def, "LaunchType": "FARGATE",
                    "NetworkConfiguration": {"AwsvpcConfiguration": {
                        "Subnets": subnets, "SecurityGroups": [sg],
                        "AssignPublicIp": "DISABLED"}},
                    "Overrides": {"ContainerOverrides": [{"Name": "job", "Environment": [
                        {"Name": "EXIT_CODE", "Value.$": "$.exit_code"}]}]},
                },
                "ResultSelector": {"exit_code.$": "$.Containers[0].ExitCode",
                                   "az.$": "$.AvailabilityZone", "arn.$": "$.TaskArn"},
                "ResultPath": "$.job",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "JobFailed"}],
                "Next": "JobSucceeded",
            },
            "JobSucceeded": {"Type": "Pass", "Result": "succeeded", "ResultPath": "$.outcome",
                             "End": True},
            "JobFailed": {"Type": "Pass", "Result": "caught", "ResultPath": "$.outcome",
                          "End": True},
        },
    }


@pytest.fixture(scope="module")
def job_definition(cloud: RunningCloud) -> str:
    return str(cloud.client("ecs").register_task_definition(
        family="t-sfn-job", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[{
            "name": "job", "image": "test:local", "essential": True, "memory": 128,
            "command": ["python", "-c", textwrap.dedent(JOB)]}],
    )["taskDefinition"]["taskDefinitionArn"])


@pytest.fixture(scope="module")
def role(cloud: RunningCloud) -> str:
    return str(cloud.client("iam").create_role(
        RoleName="t-sfn-role", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"])


@pytest.fixture(scope="module")
def workflow(cloud: RunningCloud, tmp_path_factory: pytest.TempPathFactory,
             job_definition: str, role: str) -> str:
    state_dir = tmp_path_factory.mktemp("flaky")
    flaky = deploy_lambda(cloud, "t-sfn-flaky", FLAKY,
                          environment={"STATE_DIR": str(state_dir), "FAIL_TIMES": "2"})
    res = cloud.status()["resources"]
    asl = definition(flaky, res["cluster_arn"], job_definition,
                     list(res["subnets"]["private"].values()),
                     res["security_groups"]["strategy-tasks"])
    return str(cloud.client("stepfunctions").create_state_machine(
        name="t-sfn-workflow", definition=json.dumps(asl), roleArn=role,
        type="STANDARD")["stateMachineArn"])


def execute(cloud: RunningCloud, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Unnamed, as the scheduler starts them: each gets its own generated name."""
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"]
                    != "RUNNING" and d, timeout=30)
    done["history"] = sfn.get_execution_history(executionArn=arn)["events"]
    return dict(done)


def test_exit_0_takes_the_success_path_after_lambda_retries(cloud: RunningCloud,
                                                             workflow: str) -> None:
    done = execute(cloud, workflow, {"key": uuid.uuid4().hex, "exit_code": "0"})
    assert done["status"] == "SUCCEEDED"
    out = json.loads(done["output"])
    assert out["prepared"] == {"attempt": 3}  # two failures retried
    assert out["outcome"] == "succeeded"
    assert out["job"]["exit_code"] == 0
    assert out["job"]["az"] in cloud.status()["resources"]["subnets"]["private"]
    failed = [e for e in done["history"] if e["type"] == "TaskFailed"]
    assert len(failed) == 2 and all(e["taskFailedEventDetails"]["error"] == "RuntimeError"
                                    for e in failed)


def test_non_zero_exit_takes_the_catch_path(cloud: RunningCloud, workflow: str) -> None:
    done = execute(cloud, workflow, {"key": uuid.uuid4().hex, "exit_code": "3"})
    assert done["status"] == "SUCCEEDED"
    out = json.loads(done["output"])
    assert out["outcome"] == "caught" and "job" not in out
    assert out["error"]["Error"] == "States.TaskFailed"
    task = json.loads(out["error"]["Cause"])  # the task description, as in AWS
    assert task["Containers"][0]["ExitCode"] == 3
    assert task["StopCode"] == "EssentialContainerExited"
    # the task really ran and is gone
    ecs = cloud.control("/ecs/tasks")["tasks"]
    assert next(t for t in ecs if t["task_arn"] == task["TaskArn"])["exit_code"] == 3


def test_run_task_sync_output_is_the_task_description(cloud: RunningCloud, job_definition: str,
                                                      role: str) -> None:
    res = cloud.status()["resources"]
    asl = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
        "Parameters": {
            "Cluster": res["cluster"], "TaskDefinition": job_definition, "LaunchType": "FARGATE",
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": list(res["subnets"]["private"].values()),
                "SecurityGroups": [res["security_groups"]["strategy-tasks"]]}},
            "Overrides": {"ContainerOverrides": [{"Name": "job", "Environment": [
                {"Name": "EXIT_CODE", "Value": "0"}]}]}}}}}
    machine = cloud.client("stepfunctions").create_state_machine(
        name="t-sfn-plain-run", definition=json.dumps(asl), roleArn=role)["stateMachineArn"]
    done = execute(cloud, machine, {})
    assert done["status"] == "SUCCEEDED"
    task = json.loads(done["output"])
    assert task["LastStatus"] == "STOPPED" and task["StartedBy"] == "AWS Step Functions"
    assert isinstance(task["StoppedAt"], int)  # epoch milliseconds, as AWS gives them


@pytest.fixture(autouse=True)
def _no_task_left(cloud: RunningCloud) -> Any:
    yield
    running = [t for t in cloud.control("/ecs/tasks")["tasks"]
               if t["family"] == "t-sfn-job" and t["last_status"] != "STOPPED"]
    assert not running


