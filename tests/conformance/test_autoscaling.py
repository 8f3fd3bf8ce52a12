"""EC2 Auto Scaling conformance: health replacement, termination lifecycle hooks, grace period."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.cloud import RunningCloud, asg_history, ec2_state, wait_for

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


def _instances(cloud: RunningCloud, group: str) -> list[dict[str, Any]]:
    groups = cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return groups[0]["Instances"] if groups else []


def _state_of(cloud: RunningCloud, group: str, iid: str) -> str | None:
    return next((i["LifecycleState"] for i in _instances(cloud, group)
                 if i["InstanceId"] == iid), None)


@pytest.fixture
def make_group(cloud: RunningCloud) -> Iterator[Any]:
    """A one-instance group in one AZ, its hooks put before it scales out."""
    asg, ec2 = cloud.client("autoscaling"), cloud.client("ec2")
    made: list[str] = []

    def make(name: str, hooks: list[dict[str, Any]], **group_args: Any) -> str:
        ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
            AvailabilityZones=[f"{cloud.region}a"], **group_args)
        made.append(name)
        for hook in hooks:
            asg.put_lifecycle_hook(AutoScalingGroupName=name, **hook)
        asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, DesiredCapacity=1)
        return name

    yield make
    for name in made:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_set_instance_health_unhealthy_terminates_and_replaces_the_instance(
        cloud: RunningCloud, make_group: Any) -> None:
    """SetInstanceHealth Unhealthy: "Amazon EC2 Auto Scaling terminates and replaces the
    unhealthy instance"; the replacement goes through the launch lifecycle hook.
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetInstanceHealth.html"""
    asg = cloud.client("autoscaling")
    group = make_group("c-asg-sethealth", [{
        "LifecycleHookName": "launch", "LifecycleTransition": LAUNCHING,
        "HeartbeatTimeout": 600, "DefaultResult": "ABANDON"}])
    first = wait_for(lambda: _instances(cloud, group), timeout=10)[0]["InstanceId"]
    asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="launch",
                                  InstanceId=first, LifecycleActionResult="CONTINUE")
    assert _state_of(cloud, group, first) == "InService"

    asg.set_instance_health(InstanceId=first, HealthStatus="Unhealthy",
                            ShouldRespectGracePeriod=False)
    wait_for(lambda: ec2_state(cloud, first) == "terminated", timeout=10)
    assert _state_of(cloud, group, first) is None
    # The replacement (after the group's replacement delay) waits on the launch hook.
    second = wait_for(lambda: [i for i in _instances(cloud, group)
                               if i["InstanceId"] != first], timeout=30)[0]
    assert second["LifecycleState"] == "Pending:Wait"
    assert asg_history(cloud, group, "instance-unhealthy")[0]["instance"] == first


def test_terminating_lifecycle_hook_holds_the_instance_in_terminating_wait_until_completed(
        cloud: RunningCloud, make_group: Any) -> None:
    """A termination hook puts the instance in Terminating:Wait and emits the "EC2
    Instance-terminate Lifecycle Action" event; CompleteLifecycleAction moves it on to
    Terminating:Proceed and Terminated.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html"""
    asg, events, sqs = (cloud.client(s) for s in ("autoscaling", "events", "sqs"))
    group_name = "c-asg-termhook"
    url = sqs.create_queue(QueueName=f"{group_name}-events")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name=f"{group_name}-rule", EventPattern=json.dumps({
        "source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
        "detail": {"AutoScalingGroupName": [group_name]}}))
    events.put_targets(Rule=f"{group_name}-rule", Targets=[{"Id": "q", "Arn": qarn}])
    group = make_group(group_name, [{
        "LifecycleHookName": "drain", "LifecycleTransition": TERMINATING,
        "HeartbeatTimeout": 3600, "DefaultResult": "CONTINUE",
        "NotificationMetadata": "drain me"}])
    iid = wait_for(lambda: _instances(cloud, group), timeout=10)[0]["InstanceId"]
    assert _state_of(cloud, group, iid) == "InService"

    asg.set_instance_health(InstanceId=iid, HealthStatus="Unhealthy",
                            ShouldRespectGracePeriod=False)
    assert _state_of(cloud, group, iid) == "Terminating:Wait"
    assert ec2_state(cloud, iid) == "running"  # still running while the hook works
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get(
        "Messages"), timeout=15)
    event = json.loads(msgs[0]["Body"])
    assert event["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    detail = event["detail"]
    assert detail["EC2InstanceId"] == iid and detail["LifecycleTransition"] == TERMINATING
    assert detail["LifecycleHookName"] == "drain" and detail["NotificationMetadata"] == "drain me"

    asg.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="drain",
                                  LifecycleActionToken=detail["LifecycleActionToken"],
                                  LifecycleActionResult="CONTINUE")
    assert ec2_state(cloud, iid) == "terminated"
    assert _state_of(cloud, group, iid) is None
    events.remove_targets(Rule=f"{group_name}-rule", Ids=["q"])
    events.delete_rule(Name=f"{group_name}-rule")


def test_terminating_lifecycle_hook_timeout_terminates_the_instance_whatever_the_result(
        cloud: RunningCloud, make_group: Any) -> None:
    """Without completion the instance stays in Terminating:Wait for the heartbeat timeout
    (wall seconds in the local cloud: it bounds the hook's action, see the README's time
    table); then the default result applies, and for a termination hook both CONTINUE
    and ABANDON terminate the instance.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html"""
    asg = cloud.client("autoscaling")
    group = make_group("c-asg-termtimeout", [{
        "LifecycleHookName": "drain", "LifecycleTransition": TERMINATING,
        "HeartbeatTimeout": 30, "DefaultResult": "ABANDON"}])  # PutLifecycleHook's minimum
    iid = wait_for(lambda: _instances(cloud, group), timeout=10)[0]["InstanceId"]
    asg.set_instance_health(InstanceId=iid, HealthStatus="Unhealthy",
                            ShouldRespectGracePeriod=False)
    assert _state_of(cloud, group, iid) == "Terminating:Wait"
    wait_for(lambda: ec2_state(cloud, iid) == "terminated", timeout=60)
    started = asg_history(cloud, group, "instance-terminating")[0]["at"]
    timed_out = asg_history(cloud, group, "lifecycle-timed-out")
    assert timed_out and timed_out[0]["result"] == "ABANDON"
    # the whole heartbeat timeout, in wall seconds (30 x the time scale in simulated ones)
    assert timed_out[0]["at"] - started >= 30 * cloud.time_scale - 1
    assert _state_of(cloud, group, iid) is None


def test_health_check_grace_period_defers_replacing_a_new_unhealthy_instance(
        cloud: RunningCloud, make_group: Any) -> None:
    """"The health check grace period specifies the minimum amount of time (in seconds) to keep
    a new instance in service before terminating it if it's found to be unhealthy."
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html
    The grace period covers start-up work, so locally it is wall seconds (README time table):
    5 s are 100 simulated s at 20x."""
    grace = 5
    group = make_group("c-asg-grace", [], HealthCheckGracePeriod=grace)
    iid = wait_for(lambda: _instances(cloud, group), timeout=10)[0]["InstanceId"]
    in_service = asg_history(cloud, group, "instance-launched")[0]["at"]
    cloud.client("ec2").stop_instances(InstanceIds=[iid])

    unhealthy = wait_for(lambda: asg_history(cloud, group, "instance-unhealthy"), timeout=40)[0]
    assert unhealthy["instance"] == iid
    waited = unhealthy["at"] - in_service
    assert waited >= grace * cloud.time_scale, waited
    assert waited <= grace * cloud.time_scale + 30  # checked again soon after the grace
    wait_for(lambda: ec2_state(cloud, iid) == "terminated", timeout=10)
