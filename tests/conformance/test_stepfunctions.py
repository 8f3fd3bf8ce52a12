"""Step Functions behaviours the backtest workflow relies on, as AWS documents them."""

from __future__ import annotations

import json
import textwrap
import uuid
from typing import Any

import pytest

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for

# Exits with EXIT_CODE after SLEEP wall seconds (0 by default).
JOB = """
import os, sys, time
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


@pytest.fixture(scope="module")
def role(cloud: RunningCloud) -> str:
    iam = cloud.client("iam")
    try:
        return str(iam.get_role(RoleName="t-sfn-conformance")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        policy = json.dumps({"Version": "2012-10-17", "Statement": []})
        return str(iam.create_role(RoleName="t-sfn-conformance",
                                   AssumeRolePolicyDocument=policy)["Role"]["Arn"])


@pytest.fixture(scope="module")
def job_definition(cloud: RunningCloud) -> str:
    return str(cloud.client("ecs").register_task_definition(
        family="t-sfn-conf-job", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[{
            "name": "job", "image": "test:local", "essential": True, "memory": 128,
            "command": ["python", "-c", textwrap.dedent(JOB)]}],
    )["taskDefinition"]["taskDefinitionArn"])


def machine(cloud: RunningCloud, role: str, states: dict[str, Any], start: str) -> str:
    return str(cloud.client("stepfunctions").create_state_machine(
        name=f"t-conf-{uuid.uuid4().hex[:10]}", roleArn=role,
        definition=json.dumps({"StartAt": start, "States": states}))["stateMachineArn"])


def start(cloud: RunningCloud, arn: str, payload: dict[str, Any] | None = None) -> str:
    return str(cloud.client("stepfunctions").start_execution(
        stateMachineArn=arn, input=json.dumps(payload or {}))["executionArn"])


def finished(cloud: RunningCloud, execution: str, timeout: float = 60) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"]
                    != "RUNNING" and d, timeout=timeout, interval=0.2)
    done["history"] = sfn.get_execution_history(executionArn=execution)["events"]
    return dict(done)


def entered(done: dict[str, Any]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in done["history"]
            if "stateEnteredEventDetails" in e]


def run_task_state(cloud: RunningCloud, job_definition: str, subnets: list[str],
                   env: dict[str, str], **extra: Any) -> dict[str, Any]:
    res = cloud.status()["resources"]
    return {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync",
        "Parameters": {
            "Cluster": res["cluster_arn"], "TaskDefinition": job_definition,
            "LaunchType": "FARGATE",
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": subnets, "SecurityGroups": [res["security_groups"]["strategy-tasks"]],
                "AssignPublicIp": "DISABLED"}},
            "Overrides": {"ContainerOverrides": [{"Name": "job", "Environment": [
                {"Name": k, "Value": v} for k, v in env.items()]}]}},
        **extra,
    }


CAUGHT = {"Caught": {"Type": "Pass", "End": True}}
CATCH_ALL = {"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}


def test_states_all_does_not_catch_or_retry_states_runtime(cloud: RunningCloud,
                                                           role: str) -> None:
    """States.ALL "can't catch the States.DataLimitExceeded terminal error or Runtime error
    types"; a States.Runtime error "isn't retriable, and will always cause the execution to
    fail". https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"""
    states = {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": "t-conf-never-called", "Payload": {"x.$": "$.missing"}},
        **CATCH_ALL}, **CAUGHT}
    done = finished(cloud, start(cloud, machine(cloud, role, states, "Call"), {"present": 1}))
    assert done["status"] == "FAILED"
    assert done["error"] == "States.Runtime"
    assert "$.missing" in done["cause"]
    assert "Caught" not in entered(done)
    failures = [e for e in done["history"] if e["type"] == "TaskFailed"]
    assert len(failures) == 1  # not retried


def test_states_all_does_not_catch_states_data_limit_exceeded(cloud: RunningCloud,
                                                              role: str) -> None:
    """A task result over the 256 KiB payload quota is States.DataLimitExceeded, "a terminal
    error that can't be caught by the States.ALL error type".
    https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"""
    big = deploy_lambda(cloud, f"t-conf-big-{uuid.uuid4().hex[:6]}",
                        "def handler(event, context):\n    return 'x' * 300_000\n")
    states = {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": big, "Payload": {}}, **CATCH_ALL}, **CAUGHT}
    done = finished(cloud, start(cloud, machine(cloud, role, states, "Call")))
    assert done["status"] == "FAILED"
    assert done["error"] == "States.DataLimitExceeded"
    assert "Caught" not in entered(done)
    assert len([e for e in done["history"] if e["type"] == "TaskFailed"]) == 1


def test_choice_reads_a_definite_path_through_an_array_index_as_one_value(
        cloud: RunningCloud, role: str) -> None:
    """A Reference Path selects a single node ("$.a[0].b" is a definite path); a Choice rule
    compares the Variable with that value, for the ...Path comparators of every type.
    https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html"""
    rules = [{"Variable": f"$.Containers[0].{field}", f"{kind}EqualsPath":
              f"$.Expected[0].{field}"} for kind, field in (
        ("Numeric", "ExitCode"), ("String", "Name"), ("Boolean", "Essential"),
        ("Timestamp", "StoppedAt"))]
    states = {
        "Decide": {"Type": "Choice", "Default": "NoMatch",
                   "Choices": [{"And": rules, "Next": "Match"}]},
        "Match": {"Type": "Pass", "End": True},
        "NoMatch": {"Type": "Pass", "End": True}}
    container = {"ExitCode": 0, "Name": "job", "Essential": True,
                 "StoppedAt": "2026-01-01T00:00:00Z"}
    payload = {"Containers": [container], "Expected": [dict(container)]}
    done = finished(cloud, start(cloud, machine(cloud, role, states, "Decide"), payload))
    assert done["status"] == "SUCCEEDED"
    assert entered(done) == ["Decide", "Match"]


def _running_task(cloud: RunningCloud, cluster: str, mark: str) -> str | None:
    """The RUNNING task Step Functions started with MARK=mark in its overrides."""
    ecs = cloud.client("ecs")
    arns = ecs.list_tasks(cluster=cluster, startedBy="AWS Step Functions")["taskArns"]
    if not arns:
        return None
    for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]:
        if t["lastStatus"] == "RUNNING" and any(
                e["value"] == mark for c in t["overrides"]["containerOverrides"]
                for e in c.get("environment", []) if e["name"] == "MARK"):
            return str(t["taskArn"])
    return None


def _stopped(cloud: RunningCloud, cluster: str, task: str) -> dict[str, Any] | None:
    t = cloud.client("ecs").describe_tasks(cluster=cluster, tasks=[task])["tasks"][0]
    return dict(t) if t["lastStatus"] == "STOPPED" else None


def test_run_task_sync_state_timeout_stops_the_ecs_task(cloud: RunningCloud, role: str,
                                                        job_definition: str) -> None:
    """TimeoutSeconds elapsed: the state fails with States.Timeout
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html), and Step Functions
    stops the task it started (the .sync policy grants ecs:StopTask: "you can only stop
    Amazon ECS tasks that were started by Step Functions",
    https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html). TimeoutSeconds bounds
    real work: wall seconds."""
    res = cloud.status()["resources"]
    mark = uuid.uuid4().hex
    states = {"Run": run_task_state(
        cloud, job_definition, list(res["subnets"]["private"].values()),
        {"SLEEP": "120", "MARK": mark}, TimeoutSeconds=4, End=True)}
    execution = start(cloud, machine(cloud, role, states, "Run"))
    task = wait_for(lambda: _running_task(cloud, res["cluster_arn"], mark), timeout=30)
    done = finished(cloud, execution, timeout=30)
    assert done["status"] == "FAILED" and done["error"] == "States.Timeout"
    stopped = wait_for(lambda: _stopped(cloud, res["cluster_arn"], task), timeout=30)
    assert "aborted" in stopped["stoppedReason"] and execution in stopped["stoppedReason"]
    assert stopped["stopCode"] == "UserInitiated"


def test_run_task_sync_heartbeat_timeout_stops_the_ecs_task(cloud: RunningCloud, role: str,
                                                            job_definition: str) -> None:
    """HeartbeatSeconds elapsed without a heartbeat (SendTaskHeartbeat is optional for the job
    run pattern: https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskHeartbeat.html):
    the state fails with a heartbeat timeout and Step Functions stops the ECS task it started
    (ecs:StopTask in the .sync policy, https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html).
    HeartbeatSeconds bounds real work: wall seconds."""
    res = cloud.status()["resources"]
    mark = uuid.uuid4().hex
    states = {"Run": run_task_state(
        cloud, job_definition, list(res["subnets"]["private"].values()),
        {"SLEEP": "120", "MARK": mark}, TimeoutSeconds=100, HeartbeatSeconds=4, End=True)}
    execution = start(cloud, machine(cloud, role, states, "Run"))
    task = wait_for(lambda: _running_task(cloud, res["cluster_arn"], mark), timeout=30)
    done = finished(cloud, execution, timeout=30)
    assert done["status"] == "FAILED"
    assert done["error"] in ("States.HeartbeatTimeout", "States.Timeout")
    stopped = wait_for(lambda: _stopped(cloud, res["cluster_arn"], task), timeout=30)
    assert execution in stopped["stoppedReason"]


def test_stop_execution_stops_the_run_task_sync_ecs_task(cloud: RunningCloud, role: str,
                                                         job_definition: str) -> None:
    """StopExecution while a .sync task runs: Step Functions stops the ECS task it started
    (https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html: the .sync role
    policy's ecs:StopTask, for tasks "started by Step Functions")."""
    res = cloud.status()["resources"]
    mark = uuid.uuid4().hex
    states = {"Run": run_task_state(
        cloud, job_definition, list(res["subnets"]["private"].values()),
        {"SLEEP": "120", "MARK": mark}, End=True)}
    execution = start(cloud, machine(cloud, role, states, "Run"))
    task = wait_for(lambda: _running_task(cloud, res["cluster_arn"], mark), timeout=30)
    cloud.client("stepfunctions").stop_execution(executionArn=execution, error="Drill",
                                                 cause="stopped by the test")
    assert finished(cloud, execution)["status"] == "ABORTED"
    stopped = wait_for(lambda: _stopped(cloud, res["cluster_arn"], task), timeout=30)
    assert execution in stopped["stoppedReason"]


def test_run_task_sync_api_error_is_a_catchable_ecs_error(cloud: RunningCloud,
                                                           role: str) -> None:
    """An error answer of the ECS API (here RunTask with a task definition that does not
    exist) fails the state with an ECS error name the Catch can match, not with the
    uncatchable States.Runtime ("A States.Runtime error ... will always cause the execution
    to fail"): https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html.
    The name, ECS.AmazonECSException, is what AWS reports for the optimised integration (not
    documented on the integration's page)."""
    res = cloud.status()["resources"]
    states = {"Run": run_task_state(
        cloud, f"t-conf-missing-{uuid.uuid4().hex[:6]}:1",
        list(res["subnets"]["private"].values()), {}, End=True,
        Catch=[{"ErrorEquals": ["ECS.AmazonECSException"], "ResultPath": "$.error",
                "Next": "Caught"}]), **CAUGHT}
    done = finished(cloud, start(cloud, machine(cloud, role, states, "Run")))
    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert entered(done) == ["Run", "Caught"]
    error = json.loads(done["output"])["error"]
    assert error["Error"] == "ECS.AmazonECSException"
    assert "Service: AmazonECS" in error["Cause"] and "Error Code:" in error["Cause"]
