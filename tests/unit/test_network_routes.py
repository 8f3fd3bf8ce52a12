"""The routing decisions of the local VPC, rule by rule (``tradai_sim.cloud.network.table``)."""

from __future__ import annotations

from tradai_sim.cloud.network.table import (
    OUTSIDE,
    Destination,
    Disruption,
    Eni,
    Inputs,
    egress_key,
    eni_key,
    routes,
    vpc_key,
)
from tradai_sim.cloud.network.view import DefaultRoute, Ec2View, InstanceView, SubnetView

PRIV_A = SubnetView("subnet-pa", "private-a", "private", "eu-central-1a", "10.0.11.0/24")
PRIV_B = SubnetView("subnet-pb", "private-b", "private", "eu-central-1b", "10.0.12.0/24")
PUB_A = SubnetView("subnet-ua", "public-a", "public", "eu-central-1a", "10.0.1.0/24")
PUB_B = SubnetView("subnet-ub", "public-b", "public", "eu-central-1b", "10.0.2.0/24")
NAT = "i-nat1"
EXCHANGE_IP = "203.0.113.10"


def view(nat_state: str = "running", nat_subnet: SubnetView = PUB_A,
         route_kind: str = "instance") -> Ec2View:
    v = Ec2View()
    for s in (PRIV_A, PRIV_B, PUB_A, PUB_B):
        v.subnets[s.id] = s
    target = NAT if route_kind == "instance" else None
    for s in (PRIV_A, PRIV_B):
        v.routes[s.id] = DefaultRoute("rtb-priv", route_kind, target)
    for s in (PUB_A, PUB_B):
        v.routes[s.id] = DefaultRoute("rtb-pub", "gateway", "igw-1")
    v.instances[NAT] = InstanceView(NAT, nat_state, nat_subnet.id, nat_subnet.az, "10.0.1.50")
    return v


def inputs(v: Ec2View | None = None, **kw: object) -> Inputs:
    base = dict(
        view=v or view(),
        destinations={"aws": Destination("127.0.0.1", 4566, ("52.94.0.10",)),
                      "alb": Destination("127.0.0.1", 7000, ("10.0.1.10", "10.0.2.10"))},
        nat_ports={NAT: 9001}, igw_port=9000, internet_ips=(EXCHANGE_IP,))
    base.update(kw)
    return Inputs(**base)  # type: ignore[arg-type]


def test_private_subnet_egress_goes_to_the_nat_instance_its_route_table_names() -> None:
    table = routes(inputs())
    assert table[egress_key(PRIV_A.id)] == {"to": ["127.0.0.1", 9001]}
    assert table[egress_key(PRIV_B.id)] == {"to": ["127.0.0.1", 9001]}


def test_public_subnet_egress_goes_to_the_internet_gateway_not_the_nat() -> None:
    table = routes(inputs(nat_ports={}))
    assert table[egress_key(PUB_A.id)] == {"to": ["127.0.0.1", 9000]}


def test_route_to_a_terminated_nat_instance_is_a_blackhole() -> None:
    """https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Route.html: "blackhole"
    when the NAT instance has been terminated."""
    table = routes(inputs(view("terminated")))
    reason = table[egress_key(PRIV_A.id)]["refuse"]
    assert "blackhole" in reason and NAT in reason and "terminated" in reason


def test_stopped_nat_instance_forwards_nothing() -> None:
    assert "blackhole" in routes(inputs(view("stopped")))[egress_key(PRIV_B.id)]["refuse"]


def test_running_nat_without_its_egress_process_forwards_nothing() -> None:
    reason = routes(inputs(nat_ports={}))[egress_key(PRIV_A.id)]["refuse"]
    assert "not forwarding" in reason


def test_subnet_without_a_default_route_has_no_internet() -> None:
    reason = routes(inputs(view(route_kind="none")))[egress_key(PRIV_A.id)]["refuse"]
    assert "no route to 0.0.0.0/0" in reason


def test_disruption_scope_all_cuts_every_path_of_the_subnet_and_only_that_subnet() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:network:disrupt-connectivity, scope all: all traffic entering and leaving)."""
    cut = Disruption("d1", frozenset({PRIV_A.id}), "all", label="drill")
    enis = {"t1": Eni("t1", PRIV_A.id, 5001), "t2": Eni("t2", PRIV_B.id, 5002)}
    table = routes(inputs(disruptions=[cut], enis=enis))
    for key in (egress_key(PRIV_A.id), vpc_key(PRIV_A.id, "aws"), vpc_key(PRIV_A.id, "alb"),
                eni_key("t1")):
        assert "cut off: drill" in table[key]["refuse"], key
    assert table[egress_key(PRIV_B.id)] == {"to": ["127.0.0.1", 9001]}
    assert table[eni_key("t2")] == {"to": ["127.0.0.1", 5002]}
    assert table[vpc_key(PRIV_B.id, "aws")]["to"] == ["127.0.0.1", 4566]


def test_disruption_scope_availability_zone_denies_only_traffic_to_other_azs() -> None:
    """Scope availability-zone: intra-VPC traffic to and from subnets in other AZs is denied
    (the NAT in AZ a is cross-AZ for private-b; the ALB and AWS endpoints span AZs)."""
    cross = Disruption("d2", frozenset({PRIV_B.id}), "availability-zone")
    table = routes(inputs(disruptions=[cross]))
    assert "may not reach eu-central-1a" in table[egress_key(PRIV_B.id)]["refuse"]
    assert table[egress_key(PRIV_A.id)] == {"to": ["127.0.0.1", 9001]}
    assert table[vpc_key(PRIV_B.id, "alb")] == {"to": ["127.0.0.1", 7000]}


def test_disruption_scope_prefix_list_denies_the_listed_cidrs_only() -> None:
    internet = Disruption("d3", frozenset({PRIV_A.id}), "prefix-list", ("203.0.113.0/24",))
    aws = Disruption("d4", frozenset({PRIV_B.id}), "prefix-list", ("52.94.0.0/22",))
    table = routes(inputs(disruptions=[internet, aws]))
    assert "scope prefix-list" in table[egress_key(PRIV_A.id)]["refuse"]
    assert table[vpc_key(PRIV_A.id, "aws")]["to"] == ["127.0.0.1", 4566]
    assert "scope prefix-list" in table[vpc_key(PRIV_B.id, "aws")]["refuse"]
    assert table[egress_key(PRIV_B.id)] == {"to": ["127.0.0.1", 9001]}


def test_az_outage_cuts_the_azs_subnets_and_a_nat_placed_there() -> None:
    table = routes(inputs(outages={"eu-central-1a": "power outage"}))
    assert "cut off: power outage" in table[egress_key(PRIV_A.id)]["refuse"]
    # private-b is up, but its route names the NAT in the dead AZ
    assert "NAT instance i-nat1 unreachable" in table[egress_key(PRIV_B.id)]["refuse"]


def test_lambda_outside_the_vpc_reaches_aws_and_internet_but_nothing_of_the_vpc() -> None:
    table = routes(inputs(nat_ports={}))
    assert table[vpc_key(OUTSIDE, "aws")] == {"to": ["127.0.0.1", 4566]}
    assert table[egress_key(OUTSIDE)] == {"to": ["127.0.0.1", 9000]}
    assert "outside the VPC" in table[vpc_key(OUTSIDE, "alb")]["refuse"]
