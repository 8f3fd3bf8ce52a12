"""Egress decided by the route tables: private subnets reach the internet (the exchange) only
through the NAT instance their route table names; when it is terminated the route is a
blackhole and egress fails fast, until the Auto Scaling group's replacement is routed by the
real update-nat-routes Lambda (launch lifecycle hook), with no process of the stack restarted."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for


def _network(cloud: RunningCloud) -> dict[str, Any]:
    return requests.get(f"{cloud.endpoint}/_sim/network", timeout=10).json()


def _private(cloud: RunningCloud) -> list[dict[str, Any]]:
    subnets = [s for s in _network(cloud)["subnets"] if s["tier"] == "private"]
    assert len(subnets) == 2
    return subnets


def _in_service(cloud: RunningCloud) -> list[str]:
    group = cloud.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[cloud.name("nat-asg")])["AutoScalingGroups"][0]
    return [i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"]


def _default_routes(cloud: RunningCloud) -> list[dict[str, Any]]:
    tables = cloud.client("ec2").describe_route_tables(Filters=[
        {"Name": "tag:Name", "Values": [cloud.name("private-rt-a"), cloud.name("private-rt-b")]}
    ])["RouteTables"]
    assert len(tables) == 2
    return [r for t in tables for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]


def _exchange(cloud: RunningCloud) -> str:
    return str(cloud.status()["resources"]["endpoints"]["exchange"])


def _via(cloud: RunningCloud) -> dict[str, int]:
    return requests.get(f"{_exchange(cloud)}/_admin/stats", timeout=5).json()["via"]


def _ping_from(subnet: dict[str, Any], exchange: str) -> requests.Response:
    with requests.Session() as s:
        s.trust_env = False
        return s.get(f"{exchange}/api/v3/ping", proxies={"http": subnet["egress_proxy"]},
                     timeout=5)


def _refused(subnet: dict[str, Any], exchange: str) -> bool:
    try:
        _ping_from(subnet, exchange)
    except requests.ConnectionError:
        return True
    return False


def _data_collection(cloud: RunningCloud) -> dict[str, Any]:
    tasks = [t for t in cloud.control("/ecs/tasks")["tasks"]
             if t["group"] == f"service:{cloud.name('data-collection')}"
             and t["last_status"] == "RUNNING"]
    assert len(tasks) == 1, tasks
    return tasks[0]


def test_private_subnets_reach_the_internet_through_the_nat_instance_their_route_names(
        cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/vpc/latest/userguide/work-with-nat-instances.html: the
    private subnets' route table sends 0.0.0.0/0 to the NAT instance."""
    nat = wait_for(lambda: _in_service(cloud), timeout=60)[0]
    assert {r.get("InstanceId") for r in _default_routes(cloud)} == {nat}
    for subnet in _private(cloud):
        assert subnet["route_target"] == nat and subnet["route_state"] == "active"
        assert subnet["egress"]["works"] is True
    # The data-collection task (a private subnet) syncs candles; they leave through the NAT.
    before = _via(cloud).get(f"nat:{nat}", 0)
    wait_for(lambda: _via(cloud).get(f"nat:{nat}", 0) > before + 2, timeout=60, interval=0.5)


def test_a_request_that_bypasses_the_nat_is_refused_by_the_exchange(cloud: RunningCloud) -> None:
    r = requests.get(f"{_exchange(cloud)}/api/v3/klines",
                     params={"symbol": "BTCUSDT", "interval": "5m"}, timeout=5)
    assert r.status_code == 403
    assert "did not leave the VPC through a NAT instance" in r.text


@pytest.mark.timeout(180)
def test_terminated_nat_instance_blackholes_egress_until_the_replacement_is_routed(
        cloud: RunningCloud) -> None:
    """https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html (a route whose NAT
    instance was terminated is a ``blackhole``) and
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html (the launch
    hook holds the replacement in Pending:Wait until update-nat-routes completes it)."""
    old = wait_for(lambda: _in_service(cloud), timeout=60)[0]
    exchange = _exchange(cloud)
    task = _data_collection(cloud)
    private = _private(cloud)
    assert all(_ping_from(s, exchange).status_code == 200 for s in private)

    cloud.client("ec2").terminate_instances(InstanceIds=[old])

    def blackholed() -> bool:
        return all(r.get("State") == "blackhole" and r.get("InstanceId") == old
                   for r in _default_routes(cloud))

    # Each step has its own deadline (5 s wall, 100 simulated s at 20x); their sum is not
    # bounded again (ci87: 5.33 s in all on a busy machine, against a 5 s total).
    wait_for(blackholed, timeout=5, interval=0.05)
    for subnet in private:  # egress fails fast with a connection error, not a timeout
        wait_for(lambda subnet=subnet: _refused(subnet, exchange), timeout=5, interval=0.05)
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            _ping_from(subnet, exchange)
        assert time.monotonic() - started < 1.0

    new = wait_for(lambda: [i for i in _in_service(cloud) if i != old], timeout=120,
                   interval=0.2)[0]
    wait_for(lambda: all(r.get("InstanceId") == new and r.get("State") == "active"
                         for r in _default_routes(cloud)), timeout=60, interval=0.1)
    # the router reads the new route at its next refresh (0.1 s, longer on a busy machine)
    assert wait_for(lambda: all(not _refused(s, exchange) for s in _private(cloud)),
                    timeout=10, interval=0.1)
    assert all(_ping_from(s, exchange).status_code == 200 for s in _private(cloud))
    attr = cloud.client("ec2").describe_instance_attribute(InstanceId=new,
                                                           Attribute="sourceDestCheck")
    assert attr["SourceDestCheck"]["Value"] is False
    # No process restarted: the same data-collection task syncs through the new NAT.
    wait_for(lambda: _via(cloud).get(f"nat:{new}", 0) > 0, timeout=60, interval=0.5)
    assert _data_collection(cloud)["pid"] == task["pid"]
