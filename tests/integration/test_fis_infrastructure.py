"""FIS experiments that disrupt the infrastructure the session's cloud shares (the NAT
instance, the network, AZ a, the NAT group's capacity) run in a cloud of their own, started
from the spec without ECS services (it starts in seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tests.integration.fis_helpers import (
    shipped,
    spec_without_services,
    start,
    start_cloud_with_spec,
    template_body,
    wait_until,
)


@pytest.fixture(scope="module")
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    state = tmp_path_factory.mktemp("fis-cloud")
    running = start_cloud_with_spec(state, spec_without_services(state), timeout=180)
    try:
        yield running
    finally:
        running.stop()


def _nat_in_service(cloud: RunningCloud) -> list[str]:
    group = cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[cloud.name("nat-asg")])["AutoScalingGroups"][0]
    return [i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"]


def _disruptions(cloud: RunningCloud) -> list[dict[str, Any]]:
    r = requests.get(f"{cloud.endpoint}/_sim/network/disruptions", timeout=10)
    r.raise_for_status()
    return list(r.json()["disruptions"])


def test_network_disruption_cuts_the_subnet_until_the_experiment_stops(
        own_cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:network:disrupt-connectivity) and
    https://docs.aws.amazon.com/fis/latest/userguide/stop-experiment.html"""
    subnet = own_cloud.status()["resources"]["subnets"]["private"]["eu-central-1a"]
    target = {"resourceType": "aws:ec2:subnet", "selectionMode": "ALL",
              "resourceTags": {"Name": own_cloud.name("private-a")}}
    exp_id = start(own_cloud, template_body(own_cloud, {"Cut": {
        "actionId": "aws:network:disrupt-connectivity", "targets": {"Subnets": "S"},
        "parameters": {"duration": "PT30M", "scope": "all"}}}, {"S": target}))
    wait_until(own_cloud, exp_id, "running", action="Cut", timeout=60)
    [cut] = _disruptions(own_cloud)
    assert cut["subnets"] == [subnet] and cut["scope"] == "all" and exp_id in cut["label"]
    own_cloud.client("fis").stop_experiment(id=exp_id)
    done = wait_until(own_cloud, exp_id, "stopped", timeout=60)
    assert done["actions"]["Cut"]["state"]["status"] == "stopped"
    assert _disruptions(own_cloud) == []


def test_asg_capacity_error_holds_in_the_given_azs_until_the_experiment_stops(
        own_cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:ec2:asg-insufficient-instance-capacity-error)"""
    group = own_cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[own_cloud.name("nat-asg")])["AutoScalingGroups"][0]
    target = {"resourceType": "aws:ec2:autoscaling-group", "selectionMode": "ALL",
              "resourceArns": [group["AutoScalingGroupARN"]]}
    exp_id = start(own_cloud, template_body(own_cloud, {"Ice": {
        "actionId": "aws:ec2:asg-insufficient-instance-capacity-error",
        "targets": {"AutoScalingGroups": "G"},
        "parameters": {"availabilityZoneIdentifiers": "eu-central-1a,eu-central-1b",
                       "duration": "PT30M", "percentage": "100"}}}, {"G": target}))
    wait_until(own_cloud, exp_id, "running", action="Ice", timeout=60)

    def faults() -> list[dict[str, Any]]:
        return list(own_cloud.status()["parts"]["autoscaling"]["capacity_faults"])

    [fault] = faults()
    assert fault["groups"] == [group["AutoScalingGroupName"]]
    own_cloud.client("fis").stop_experiment(id=exp_id)
    wait_until(own_cloud, exp_id, "stopped", timeout=60)
    assert faults() == []


def test_network_disruption_and_capacity_error_complete_after_their_duration(
        own_cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html (both
    actions hold for ``duration``, then end) and
    https://docs.aws.amazon.com/fis/latest/userguide/view-experiment-progress.html"""
    group = own_cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[own_cloud.name("nat-asg")])["AutoScalingGroups"][0]
    targets = {
        "S": {"resourceType": "aws:ec2:subnet", "selectionMode": "ALL",
              "resourceTags": {"Name": own_cloud.name("database-b")}},
        "G": {"resourceType": "aws:ec2:autoscaling-group", "selectionMode": "ALL",
              "resourceArns": [group["AutoScalingGroupARN"]]}}
    exp_id = start(own_cloud, template_body(own_cloud, {
        "Cut": {"actionId": "aws:network:disrupt-connectivity", "targets": {"Subnets": "S"},
                "parameters": {"duration": "PT1M", "scope": "availability-zone"}},
        "Ice": {"actionId": "aws:ec2:asg-insufficient-instance-capacity-error",
                "targets": {"AutoScalingGroups": "G"},
                "parameters": {"availabilityZoneIdentifiers": "eu-central-1b",
                               "duration": "PT1M"}}}, targets))
    done = wait_until(own_cloud, exp_id, "completed", timeout=60)
    for name in ("Cut", "Ice"):
        action = done["actions"][name]
        assert action["state"]["status"] == "completed"
        assert (action["endTime"] - action["startTime"]).total_seconds() >= 60
    assert _disruptions(own_cloud) == []
    assert own_cloud.status()["parts"]["autoscaling"]["capacity_faults"] == []


def test_az_power_interruption_scenario_runs_its_actions_and_undoes_them_on_stop(
        own_cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/az-availability-scenario.html (AZ
    Availability: Power Interruption) with emptyTargetResolutionMode skip
    (https://docs.aws.amazon.com/fis/latest/userguide/experiment-options.html)"""
    wait_for(lambda: _nat_in_service(own_cloud), timeout=60)
    exp_id = start(own_cloud, shipped(own_cloud, "az-a-power-interruption"))
    running = wait_until(own_cloud, exp_id, "running", action="DisruptPrivateA", timeout=60)
    assert len(_disruptions(own_cloud)) == 3  # public, private and database subnets of AZ a
    # The NAT group is found by its Name tag (as the Pulumi program tags it): launches in
    # AZ a fail while the action runs.
    wait_until(own_cloud, exp_id, "running", action="InsufficientCapacity", timeout=30)
    faults = own_cloud.status()["parts"]["autoscaling"]["capacity_faults"]
    assert [f["groups"] for f in faults] == [[own_cloud.name("nat-asg")]]
    assert faults[0]["azs"] == ["eu-central-1a"]
    own_cloud.client("fis").stop_experiment(id=exp_id)
    done = wait_until(own_cloud, exp_id, "stopped", timeout=60)
    states = {n: a["state"]["status"] for n, a in done["actions"].items()}
    assert set(states.values()) <= {"stopped", "completed", "skipped"}, states
    assert _disruptions(own_cloud) == []
    assert own_cloud.status()["parts"]["autoscaling"]["capacity_faults"] == []
    assert running["actions"]["DisruptPrivateA"]["state"]["status"] == "running"


def test_terminating_the_nat_instance_completes_and_the_group_replaces_it(
        own_cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:ec2:terminate-instances); the group replaces the instance (architecture section 6)"""
    [old] = wait_for(lambda: _nat_in_service(own_cloud), timeout=90)
    exp_id = start(own_cloud, shipped(own_cloud, "nat-instance-termination"))
    done = wait_until(own_cloud, exp_id, "completed", timeout=60)
    assert done["actions"]["TerminateNat"]["state"]["status"] == "completed"
    assert "cannot be restored" in done["actions"]["TerminateNat"]["state"]["reason"]
    resolved = own_cloud.client("fis").list_experiment_resolved_targets(experimentId=exp_id)
    # Every running instance of the group (one launching after an earlier test may be there).
    killed = {t["targetInformation"]["arn"].rsplit("/", 1)[-1]
              for t in resolved["resolvedTargets"]}
    assert old in killed
    states = {i["InstanceId"]: i["State"]["Name"] for r in own_cloud.client(
        "ec2").describe_instances(InstanceIds=sorted(killed))["Reservations"]
        for i in r["Instances"]}
    assert set(states.values()) <= {"shutting-down", "terminated"}, states
    wait_for(lambda: [i for i in _nat_in_service(own_cloud) if i not in killed], timeout=120)

