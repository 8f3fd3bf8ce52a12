"""FIS experiments in the session's cloud: each action against its target reaching its end
state as AWS documents it, stop conditions, empty targets. Experiments here touch only
resources the test creates (its own instance, service, roles and alarm)."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.fis_helpers import (
    experiment,
    history,
    start,
    template_body,
    wait_until,
)

AMI = "ami-12c6146b"  # the one the NAT launch template uses; moto knows it


def test_wait_action_completes_after_its_duration_in_simulated_time(
        cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:fis:wait) and https://docs.aws.amazon.com/fis/latest/userguide/view-experiment-progress.html"""
    exp_id = start(cloud, template_body(cloud, {
        "Wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}}}))
    done = wait_until(cloud, exp_id, "completed", timeout=30)
    wait = done["actions"]["Wait"]
    assert wait["state"] == {"status": "completed", "reason": "Action was completed."}
    assert (wait["endTime"] - wait["startTime"]).total_seconds() >= 60
    timeline = history(cloud, exp_id)["timeline"]
    assert [e["status"] for e in timeline if e["kind"] == "experiment"] == [
        "pending", "initiating", "running", "completed"]
    assert all(e["sim"] >= e["wall"] - 1 for e in timeline)  # simulated and wall times


@pytest.fixture()
def instance(cloud: RunningCloud) -> Iterator[str]:
    ec2 = cloud.client("ec2")
    subnet = cloud.status()["resources"]["subnets"]["public"]["eu-central-1b"]
    tag = f"fis-{uuid.uuid4().hex[:8]}"
    iid = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t4g.nano",
                            SubnetId=subnet, TagSpecifications=[{
                                "ResourceType": "instance",
                                "Tags": [{"Key": "fis-test", "Value": tag}]}])[
        "Instances"][0]["InstanceId"]
    yield iid
    ec2.terminate_instances(InstanceIds=[iid])


def _instance_state(cloud: RunningCloud, iid: str) -> str:
    return str(cloud.client("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0][
        "Instances"][0]["State"]["Name"])


def test_stop_instances_stops_then_starts_them_after_the_duration(
        cloud: RunningCloud, instance: str) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:ec2:stop-instances, startInstancesAfterDuration)"""
    tags = cloud.client("ec2").describe_tags(Filters=[
        {"Name": "resource-id", "Values": [instance]}])["Tags"]
    target = {"resourceType": "aws:ec2:instance", "selectionMode": "ALL",
              "resourceTags": {"fis-test": tags[0]["Value"]},
              "filters": [{"path": "State.Name", "values": ["running"]}]}
    exp_id = start(cloud, template_body(cloud, {"Stop": {
        "actionId": "aws:ec2:stop-instances", "targets": {"Instances": "Mine"},
        "parameters": {"startInstancesAfterDuration": "PT1M"}}}, {"Mine": target}))
    wait_until(cloud, exp_id, "running", action="Stop", timeout=30)
    assert _instance_state(cloud, instance) in ("stopping", "stopped")
    done = wait_until(cloud, exp_id, "completed", timeout=30)
    assert done["actions"]["Stop"]["state"]["status"] == "completed"
    assert _instance_state(cloud, instance) in ("pending", "running")
    resolved = cloud.client("fis").list_experiment_resolved_targets(experimentId=exp_id)
    assert [t["targetInformation"]["arn"].rsplit("/", 1)[-1]
            for t in resolved["resolvedTargets"]] == [instance]


@pytest.fixture()
def service(cloud: RunningCloud) -> Iterator[dict[str, str]]:
    """A small ECS service of the test's own (a sleeping process), desired count 1."""
    ecs = cloud.client("ecs")
    res = cloud.status()["resources"]
    name = f"fis-test-{uuid.uuid4().hex[:6]}"
    task_def = ecs.register_task_definition(
        family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{
            "name": "main", "image": "test:local", "essential": True, "memory": 128,
            "command": ["python", "-c", textwrap.dedent("import time; time.sleep(3600)")]}])[
        "taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=res["cluster"], serviceName=name, taskDefinition=task_def,
                       desiredCount=1, launchType="FARGATE", networkConfiguration={
                           "awsvpcConfiguration": {
                               "subnets": list(res["subnets"]["private"].values()),
                               "securityGroups": [res["security_groups"]["strategy-tasks"]],
                               "assignPublicIp": "DISABLED"}})
    yield {"cluster": res["cluster"], "service": name}
    ecs.update_service(cluster=res["cluster"], service=name, desiredCount=0)
    ecs.delete_service(cluster=res["cluster"], service=name, force=True)


def _running_tasks(cloud: RunningCloud, svc: dict[str, str]) -> list[str]:
    ecs = cloud.client("ecs")
    arns = ecs.list_tasks(cluster=svc["cluster"], serviceName=svc["service"],
                          desiredStatus="RUNNING")["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=svc["cluster"], tasks=arns)["tasks"]
    # The service's tasks are in its group (moto's ListTasks ignores serviceName).
    return [t["taskArn"] for t in tasks
            if t["lastStatus"] == "RUNNING" and t["group"] == f"service:{svc['service']}"]


def test_stop_task_stops_one_service_task_and_the_service_replaces_it(
        cloud: RunningCloud, service: dict[str, str]) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:ecs:stop-task)"""
    wait_for(lambda: _running_tasks(cloud, service), timeout=60)
    target = {"resourceType": "aws:ecs:task", "selectionMode": "COUNT(1)",
              "parameters": {"cluster": service["cluster"], "service": service["service"]}}
    exp_id = start(cloud, template_body(cloud, {"StopOne": {
        "actionId": "aws:ecs:stop-task", "targets": {"Tasks": "T"}}}, {"T": target}))
    done = wait_until(cloud, exp_id, "completed", timeout=30)
    assert done["actions"]["StopOne"]["state"]["status"] == "completed"
    [resolved] = cloud.client("fis").list_experiment_resolved_targets(experimentId=exp_id)[
        "resolvedTargets"]
    old = resolved["targetInformation"]["arn"]
    stopped = cloud.client("ecs").describe_tasks(cluster=service["cluster"], tasks=[old])[
        "tasks"][0]
    assert stopped["group"] == f"service:{service['service']}"  # a task of that service only
    assert stopped["desiredStatus"] == "STOPPED"
    assert exp_id in stopped["stoppedReason"]
    wait_for(lambda: [t for t in _running_tasks(cloud, service) if t != old], timeout=60)


def _role(cloud: RunningCloud, name: str) -> tuple[str, Any]:
    iam = cloud.client("iam")
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
        # Allowed its EC2 calls (the local cloud enforces IAM): only FIS's fault may fail them.
        iam.put_role_policy(RoleName=name, PolicyName="ec2", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    creds = cloud.client("sts").assume_role(RoleArn=arn, RoleSessionName="fis-test")[
        "Credentials"]
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=cloud.endpoint, region_name=cloud.region,
                       aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"],
                       config=Config(retries={"total_max_attempts": 1}))
    return str(arn), ec2


def _route_error(ec2: Any, route_table: str) -> str | None:
    try:
        ec2.replace_route(RouteTableId=route_table, DestinationCidrBlock="192.0.2.0/24",
                          GatewayId="igw-none")
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_api_internal_error_fails_the_targeted_roles_ec2_calls_only(cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:fis:inject-api-internal-error: "Injects internal errors into requests made by the
    target IAM role")"""
    hook_arn, hook_ec2 = _role(cloud, "tradai-local-fis-test-hook")
    _, other_ec2 = _role(cloud, "tradai-local-fis-test-other")
    route_table = next(iter(cloud.status()["resources"]["route_tables"].values()))
    before = _route_error(hook_ec2, route_table)
    assert before != "InternalError"
    exp_id = start(cloud, template_body(cloud, {"Fail": {
        "actionId": "aws:fis:inject-api-internal-error", "targets": {"Roles": "R"},
        "parameters": {"service": "ec2", "operations": "ReplaceRoute,CreateRoute",
                       "percentage": "100", "duration": "PT10M"}}},
        {"R": {"resourceType": "aws:iam:role", "resourceArns": [hook_arn],
               "selectionMode": "ALL"}}))
    try:
        wait_until(cloud, exp_id, "running", action="Fail", timeout=30)
        assert _route_error(hook_ec2, route_table) == "InternalError"
        assert _route_error(other_ec2, route_table) == before  # other roles untouched
        hook_ec2.describe_route_tables(RouteTableIds=[route_table])  # other operations too
    finally:
        cloud.client("fis").stop_experiment(id=exp_id)
    wait_until(cloud, exp_id, "stopped", timeout=30)
    assert _route_error(hook_ec2, route_table) == before  # the fault is gone with the stop


@pytest.fixture()
def alarm(cloud: RunningCloud) -> Iterator[str]:
    cw = cloud.client("cloudwatch")
    name = f"fis-test-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=name, MetricName="Never", Namespace="Tradai/FisTest",
                        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1,
                        ComparisonOperator="GreaterThanOrEqualToThreshold",
                        TreatMissingData="notBreaching")
    yield str(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"])
    cw.delete_alarms(AlarmNames=[name])


def test_alarm_going_to_alarm_stops_the_experiment(cloud: RunningCloud, alarm: str) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html ("If a stop
    condition is triggered during an experiment, AWS FIS stops the experiment.")"""
    exp_id = start(cloud, template_body(cloud, {
        "Long": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT30M"}},
        "After": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"},
                  "startAfter": ["Long"]}},
        stop=[{"source": "aws:cloudwatch:alarm", "value": alarm}]))
    wait_until(cloud, exp_id, "running", action="Long", timeout=30)
    cw = cloud.client("cloudwatch")

    def stopped() -> dict[str, Any] | None:
        # SetAlarmState lasts until the alarm's next evaluation (notBreaching: back to OK),
        # as on AWS; FIS checks its stop conditions every 0.2 wall s, so on a loaded machine
        # one evaluation can come first. Hold the alarm in ALARM until FIS has acted.
        cw.set_alarm_state(AlarmName=alarm.rsplit(":", 1)[-1], StateValue="ALARM",
                           StateReason="test")
        e = experiment(cloud, exp_id)
        return e if e["state"]["status"] == "stopped" else None
    done = wait_for(stopped, timeout=30, interval=0.5)
    assert alarm in done["state"]["reason"]
    assert done["actions"]["Long"]["state"]["status"] == "stopped"
    assert done["actions"]["After"]["state"]["status"] == "cancelled"


def test_experiment_fails_when_a_target_resolves_to_nothing(cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/targets.html ("If no targets are
    found, the experiment fails.")"""
    nothing = {"resourceType": "aws:ec2:instance", "selectionMode": "ALL",
               "resourceTags": {"fis-test": "no-such-instance"}}
    exp_id = start(cloud, template_body(cloud, {"Kill": {
        "actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "None"}}},
        {"None": nothing}))
    done = wait_until(cloud, exp_id, "failed", timeout=30)
    assert done["state"]["reason"] == ("Target resolution returned no resources for "
                                       "target(s) 'None'.")
    assert done["actions"]["Kill"]["state"]["status"] == "cancelled"
    assert experiment(cloud, exp_id)["state"]["status"] == "failed"
