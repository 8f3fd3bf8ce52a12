"""Auto Scaling: launch lifecycle hooks, completion, heartbeat timeout, delayed replacement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.cloud import RunningCloud, asg_history, deploy_lambda, ec2_state, wait_for

# Records the lifecycle event, then lets the launch continue, as update-nat-routes will.
HOOK = """
import json, os, time, boto3
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"wall": time.time(), "event": event}) + "\\n")
    d = event["detail"]
    boto3.client("autoscaling").complete_lifecycle_action(
        AutoScalingGroupName=d["AutoScalingGroupName"], LifecycleHookName=d["LifecycleHookName"],
        LifecycleActionToken=d["LifecycleActionToken"], LifecycleActionResult="CONTINUE")
    return "ok"
"""


RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"event": event}) + "\\n")
"""


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _instances(cloud: RunningCloud, group: str) -> list[dict[str, Any]]:
    groups = cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return groups[0]["Instances"] if groups else []


def _in_service(cloud: RunningCloud, group: str, not_id: str | None = None) -> str | None:
    for i in _instances(cloud, group):
        if i["LifecycleState"] == "InService" and i["InstanceId"] != not_id:
            return str(i["InstanceId"])
    return None


@pytest.fixture
def group_factory(cloud: RunningCloud) -> Iterator[Any]:
    """Empty test groups (launch template, one AZ); a hook is added before they scale out."""
    asg, ec2 = cloud.client("autoscaling"), cloud.client("ec2")
    made: list[str] = []

    def make(name: str, timeout: int, metadata: dict[str, Any] | None = None) -> str:
        ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
            AvailabilityZones=[f"{cloud.region}a"])
        made.append(name)
        kwargs = {"NotificationMetadata": json.dumps(metadata)} if metadata else {}
        asg.put_lifecycle_hook(
            AutoScalingGroupName=name, LifecycleHookName="launch",
            LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING", HeartbeatTimeout=timeout,
            DefaultResult="ABANDON", **kwargs)
        asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, DesiredCapacity=1)
        return name

    yield make
    for name in made:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_launch_hook_continue_then_delayed_replacement_runs_the_hook_again(
        cloud: RunningCloud, group_factory: Any, tmp_path: Path) -> None:
    out = tmp_path / "hook.jsonl"
    deploy_lambda(cloud, "t-asg-hook", HOOK, environment={"OUT": str(out)})
    group = group_factory("t-asg", 300, {"target_lambda": "t-asg-hook"})

    first = wait_for(lambda: _in_service(cloud, group), timeout=15)
    event = _lines(out)[0]["event"]
    assert event["detail-type"] == "EC2 Instance-launch Lifecycle Action"
    assert event["source"] == "aws.autoscaling"
    assert event["resources"][0].endswith(f"autoScalingGroupName/{group}")
    detail = event["detail"]
    assert detail["EC2InstanceId"] == first
    assert detail["AutoScalingGroupName"] == group and detail["LifecycleHookName"] == "launch"
    assert detail["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert json.loads(detail["NotificationMetadata"]) == {"target_lambda": "t-asg-hook"}
    assert detail["LifecycleActionToken"]

    cloud.client("ec2").terminate_instances(InstanceIds=[first])
    assert _instances(cloud, group) == []  # no instant replacement
    second = wait_for(lambda: _in_service(cloud, group, not_id=first), timeout=20)
    # "ASG launches replacement (2 min)", simulated. The controller's decision is exact; the
    # launch itself follows on the timer thread, never before the due instant and as soon as a
    # loaded machine runs it (a wall second is 20 simulated ones here), so its lateness is not
    # the claim under test.
    lost_at = asg_history(cloud, group, "instance-lost")[0]["at"]
    scheduled = asg_history(cloud, group, "replacement-scheduled")
    assert len(scheduled) == 1
    assert scheduled[0]["due"] - lost_at == pytest.approx(120, abs=0.01), scheduled
    launched = [h for h in asg_history(cloud, group, "instance-launched")
                if h["instance"] == second]
    assert launched[0]["at"] >= scheduled[0]["due"], (launched, scheduled)
    assert [x["event"]["detail"]["EC2InstanceId"] for x in _lines(out)] == [first, second]
    assert [i["InstanceId"] for i in _instances(cloud, group)] == [second]


def test_no_completion_times_out_to_abandon_and_terminates(
        cloud: RunningCloud, group_factory: Any, tmp_path: Path) -> None:
    # The lifecycle event also reaches EventBridge rules, the AWS way of wiring a hook.
    out = tmp_path / "rule.jsonl"
    arn = deploy_lambda(cloud, "t-asg-rule", RECORDER, environment={"OUT": str(out)})
    events = cloud.client("events")
    events.put_rule(Name="t-asg-lifecycle", EventPattern=json.dumps({
        "source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-launch Lifecycle Action"],
        "detail": {"AutoScalingGroupName": ["t-asg-timeout"]}}))
    events.put_targets(Rule="t-asg-lifecycle", Targets=[{"Id": "fn", "Arn": arn}])

    group = group_factory("t-asg-timeout", 30)
    pending = wait_for(lambda: _instances(cloud, group), timeout=5)[0]
    assert pending["LifecycleState"] == "Pending:Wait"
    iid = pending["InstanceId"]
    ruled = wait_for(lambda: _lines(out), timeout=10)[0]["event"]
    events.remove_targets(Rule="t-asg-lifecycle", Ids=["fn"])
    events.delete_rule(Name="t-asg-lifecycle")
    assert ruled["detail"]["EC2InstanceId"] == iid and ruled["source"] == "aws.autoscaling"
    # 30 seconds of heartbeat timeout (wall: it bounds the hook's action), then ABANDON.
    wait_for(lambda: ec2_state(cloud, iid) == "terminated", timeout=60)
    assert all(i["InstanceId"] != iid for i in _instances(cloud, group))
    done = asg_history(cloud, group, "lifecycle-timed-out")
    assert done and done[0]["result"] == "ABANDON"
    assert cloud.status()["parts"]["autoscaling"]["groups"][group]["replacement_due"]


def test_heartbeat_and_explicit_abandon(cloud: RunningCloud, group_factory: Any) -> None:
    asg = cloud.client("autoscaling")
    group = group_factory("t-asg-abandon", 60)
    iid = wait_for(lambda: _instances(cloud, group), timeout=5)[0]["InstanceId"]
    ids = {"AutoScalingGroupName": group, "LifecycleHookName": "launch", "InstanceId": iid}
    asg.record_lifecycle_action_heartbeat(**ids)
    with pytest.raises(ClientError, match="No active Lifecycle Action"):
        asg.complete_lifecycle_action(
            AutoScalingGroupName=group, LifecycleHookName="launch",
            LifecycleActionToken="0" * 36, LifecycleActionResult="CONTINUE")
    asg.complete_lifecycle_action(LifecycleActionResult="ABANDON", **ids)
    assert ec2_state(cloud, iid) == "terminated"
    assert _instances(cloud, group) == []


def test_nat_group_has_an_instance_and_its_launch_hook(cloud: RunningCloud) -> None:
    group = cloud.name("nat-asg")
    assert wait_for(lambda: _in_service(cloud, group), timeout=30)
    hooks = cloud.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName=group)[
        "LifecycleHooks"]
    assert [h["LifecycleHookName"] for h in hooks] == ["nat-launch"]
    # As in AWS: an EventBridge rule routes the hook's launch event to update-nat-routes.
    events = cloud.client("events")
    rule = events.describe_rule(Name=cloud.name("nat-launch-hook"))
    assert json.loads(rule["EventPattern"])["detail"]["AutoScalingGroupName"] == [group]
    targets = events.list_targets_by_rule(Rule=cloud.name("nat-launch-hook"))["Targets"]
    assert [t["Arn"].rsplit(":", 1)[1] for t in targets] == [cloud.name("update-nat-routes")]
    status = cloud.status()["parts"]["autoscaling"]["groups"][group]
    assert status["replacement_seconds"] == 120 and status["launch_hooks"] == ["nat-launch"]
    assert status["instances"][0]["az"].startswith(cloud.region)


def test_launches_balance_over_azs_and_avoid_an_unavailable_one(cloud: RunningCloud) -> None:
    asg, ec2 = cloud.client("autoscaling"), cloud.client("ec2")
    subnets = cloud.status()["resources"]["subnets"]["public"]  # {az: subnet}
    ec2.create_launch_template(LaunchTemplateName="t-asg-az-lt", LaunchTemplateData={
        "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(
        AutoScalingGroupName="t-asg-az", MinSize=2, MaxSize=2, DesiredCapacity=2,
        LaunchTemplate={"LaunchTemplateName": "t-asg-az-lt", "Version": "$Latest"},
        VPCZoneIdentifier=",".join(subnets.values()))
    try:
        by_az = {i["AvailabilityZone"]: i["InstanceId"] for i in _instances(cloud, "t-asg-az")}
        assert set(by_az) == set(subnets)  # one per AZ, not both in the first subnet
        lost_az, kept_az = sorted(subnets)
        cloud.control("/autoscaling/unavailable-azs", {"unavailable": [lost_az]})
        asg.terminate_instance_in_auto_scaling_group(InstanceId=by_az[lost_az],
                                                     ShouldDecrementDesiredCapacity=False)
        zones = sorted(i["AvailabilityZone"] for i in _instances(cloud, "t-asg-az"))
        assert zones == [kept_az, kept_az]
    finally:
        cloud.control("/autoscaling/unavailable-azs", {"unavailable": []})
        asg.delete_auto_scaling_group(AutoScalingGroupName="t-asg-az", ForceDelete=True)
