"""The stack's NAT instance is replaced by its Auto Scaling group, and the launch lifecycle
hook runs the real update-nat-routes Lambda, which points private egress at the new one."""

from __future__ import annotations

from typing import Any

from tests.integration.cloud import RunningCloud, wait_for


def _in_service(cloud: RunningCloud) -> list[dict[str, Any]]:
    group = cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[cloud.name("nat-asg")])["AutoScalingGroups"][0]
    return [i for i in group["Instances"] if i["LifecycleState"] == "InService"]


def _private_route_targets(cloud: RunningCloud) -> set[str]:
    ec2 = cloud.client("ec2")
    tables = ec2.describe_route_tables(Filters=[
        {"Name": "tag:Name", "Values": [cloud.name("private-rt-a"), cloud.name("private-rt-b")]}
    ])["RouteTables"]
    assert len(tables) == 2
    return {r.get("InstanceId", "") for t in tables for r in t["Routes"]
            if r.get("DestinationCidrBlock") == "0.0.0.0/0"}


def test_terminated_nat_instance_is_replaced_and_routes_follow(cloud: RunningCloud) -> None:
    old = wait_for(lambda: _in_service(cloud), timeout=30)[0]["InstanceId"]
    assert _private_route_targets(cloud) == {old}

    cloud.client("ec2").terminate_instances(InstanceIds=[old])

    new = wait_for(lambda: [i["InstanceId"] for i in _in_service(cloud)
                            if i["InstanceId"] != old], timeout=60)[0]
    assert wait_for(lambda: _private_route_targets(cloud) == {new}, timeout=30)
    attr = cloud.client("ec2").describe_instance_attribute(InstanceId=new,
                                                           Attribute="sourceDestCheck")
    assert attr["SourceDestCheck"]["Value"] is False
