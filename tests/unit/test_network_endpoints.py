"""AWS API reachability from the local VPC: per (subnet, service), through a VPC endpoint for
that service or through the subnet's ``0.0.0.0/0`` route, as on AWS.

- Interface endpoints: with private DNS, the service's own name resolves to the endpoint's
  network interfaces in the VPC
  (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html,
  ``PrivateDnsEnabled`` in
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html).
- Gateway endpoints (S3, DynamoDB): a prefix-list route in the route tables associated with the
  endpoint; subnets on other route tables do not use it
  (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html).

The rule is tested on snapshots (``table.routes``) and once on the emulator's own EC2 state
(moto, in-process): endpoints created and deleted through the EC2 API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from tradai.settings import aws_client, service_endpoint_env
from tradai.topology import SpecError, default_topology
from tradai.topology.load import parse_topology
from tradai_sim.cloud.network.table import (
    OUTSIDE,
    Destination,
    Inputs,
    aws_destination,
    routes,
    vpc_key,
)
from tradai_sim.cloud.network.view import (
    DefaultRoute,
    Ec2View,
    EndpointView,
    InstanceView,
    SubnetView,
    read_ec2,
)

PRIV_A = SubnetView("subnet-pa", "private-a", "private", "eu-central-1a", "10.0.11.0/24")
PRIV_B = SubnetView("subnet-pb", "private-b", "private", "eu-central-1b", "10.0.12.0/24")
PUB_A = SubnetView("subnet-ua", "public-a", "public", "eu-central-1a", "10.0.1.0/24")
NAT = "i-nat1"
EMULATOR = Destination("127.0.0.1", 4566, ("52.94.0.10",))
EC2, DDB = aws_destination("ec2"), aws_destination("dynamodb")
SERVICES = {EC2: "ec2", DDB: "dynamodb", aws_destination("autoscaling"): "autoscaling"}


def view(nat_state: str = "terminated", *endpoints: EndpointView) -> Ec2View:
    v = Ec2View()
    for s in (PRIV_A, PRIV_B, PUB_A):
        v.subnets[s.id] = s
    v.routes[PRIV_A.id] = DefaultRoute("rtb-priv-a", "instance", NAT)
    v.routes[PRIV_B.id] = DefaultRoute("rtb-priv-b", "instance", NAT)
    v.routes[PUB_A.id] = DefaultRoute("rtb-pub", "gateway", "igw-1")
    v.instances[NAT] = InstanceView(NAT, nat_state, PUB_A.id, PUB_A.az, "10.0.1.50")
    v.endpoints = {e.id: e for e in endpoints}
    return v


def table(v: Ec2View) -> dict[str, dict[str, Any]]:
    return routes(Inputs(
        view=v, destinations={"aws": EMULATOR, **{n: EMULATOR for n in SERVICES}},
        nat_ports={NAT: 9001} if v.instances[NAT].state == "running" else {},
        igw_port=9000, internet_ips=("203.0.113.10",), aws_services=dict(SERVICES)))


def ec2_interface(*subnets: str, state: str = "available") -> EndpointView:
    return EndpointView("vpce-ec2", "ec2", "interface", state, subnets=subnets)


def test_private_subnet_with_the_nat_down_and_no_endpoint_is_refused_the_service() -> None:
    reason = table(view("terminated"))[vpc_key(PRIV_A.id, EC2)]["refuse"]
    assert "ec2 API unreachable" in reason and "no available VPC endpoint for ec2" in reason
    assert "blackhole" in reason  # and why the route does not serve it


def test_private_subnet_reaches_the_service_through_a_running_nat() -> None:
    decision = table(view("running"))[vpc_key(PRIV_A.id, EC2)]
    assert decision == {"to": ["127.0.0.1", 4566], "via": f"nat {NAT}"}


def test_interface_endpoint_in_the_subnets_az_serves_it_while_the_nat_is_down() -> None:
    t = table(view("terminated", ec2_interface(PRIV_A.id, PRIV_B.id)))
    # the path says only the endpoint served it (router stats count by path)
    only = {"to": ["127.0.0.1", 4566], "via": "vpce-ec2 (route down)"}
    assert t[vpc_key(PRIV_A.id, EC2)] == t[vpc_key(PRIV_B.id, EC2)] == only
    # per service: the ec2 endpoint does nothing for Auto Scaling
    assert "autoscaling API unreachable" in t[
        vpc_key(PRIV_A.id, aws_destination("autoscaling"))]["refuse"]
    # and the general listener (APIs without an endpoint) follows the route only
    assert "AWS API unreachable" in t[vpc_key(PRIV_A.id, "aws")]["refuse"]


def test_with_the_nat_up_an_endpoint_still_carries_its_service() -> None:
    """Private DNS resolves the service's name to the endpoint whatever the NAT does; a
    gateway endpoint's prefix-list route is more specific than 0.0.0.0/0."""
    t = table(view("running", ec2_interface(PRIV_A.id)))
    assert t[vpc_key(PRIV_A.id, EC2)]["via"] == "vpce-ec2"
    assert t[vpc_key(PRIV_A.id, "aws")]["via"] == f"nat {NAT}"


def test_interface_endpoint_only_in_another_az_does_not_serve_the_subnet() -> None:
    t = table(view("terminated", ec2_interface(PRIV_B.id)))
    assert "refuse" in t[vpc_key(PRIV_A.id, EC2)]
    assert t[vpc_key(PRIV_B.id, EC2)]["via"] == "vpce-ec2 (route down)"


def test_endpoint_not_available_serves_nothing() -> None:
    for state in ("pending", "deleting", "deleted", "failed"):
        t = table(view("terminated", ec2_interface(PRIV_A.id, state=state)))
        assert "refuse" in t[vpc_key(PRIV_A.id, EC2)], state


def test_gateway_endpoint_serves_only_the_route_tables_associated_with_it() -> None:
    gw = EndpointView("vpce-ddb", "dynamodb", "gateway", "available",
                      route_tables=("rtb-priv-a",))
    t = table(view("terminated", gw))
    assert t[vpc_key(PRIV_A.id, DDB)]["via"] == "vpce-ddb (route down)"
    assert "dynamodb API unreachable" in t[vpc_key(PRIV_B.id, DDB)]["refuse"]


def test_public_subnets_and_lambdas_outside_the_vpc_reach_aws_apis_directly() -> None:
    t = table(view("terminated"))
    assert t[vpc_key(PUB_A.id, EC2)]["to"] == ["127.0.0.1", 4566]
    assert t[vpc_key(PUB_A.id, "aws")]["via"] == "internet-gateway igw-1"
    assert t[vpc_key(OUTSIDE, EC2)] == {"to": ["127.0.0.1", 4566]}
    assert t[vpc_key(OUTSIDE, "aws")] == {"to": ["127.0.0.1", 4566]}


# -- the same rule on the emulator's EC2 state ---------------------------------------------

@pytest.fixture
def moto_vpc() -> Iterator[dict[str, Any]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-central-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets, tables = {}, {}
        for zone, cidr in (("a", "10.0.11.0/24"), ("b", "10.0.12.0/24")):
            sid = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr,
                                    AvailabilityZone=f"eu-central-1{zone}")["Subnet"]["SubnetId"]
            rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=rt, SubnetId=sid)
            subnets[f"eu-central-1{zone}"], tables[zone] = sid, rt
        yield {"ec2": ec2, "vpc": vpc, "subnets": subnets, "tables": tables}


def moto_table(env: dict[str, Any]) -> dict[str, dict[str, Any]]:
    v = read_ec2("123456789012", "eu-central-1", {"private": env["subnets"]}, None, env["vpc"])
    return routes(Inputs(view=v, destinations={"aws": EMULATOR, **{n: EMULATOR for n in SERVICES}},
                         nat_ports={}, igw_port=9000, internet_ips=(),
                         aws_services=dict(SERVICES)))


def test_endpoints_created_and_deleted_in_the_emulator_decide_reachability(
        moto_vpc: dict[str, Any]) -> None:
    ec2, subnets = moto_vpc["ec2"], moto_vpc["subnets"]
    a, b = subnets["eu-central-1a"], subnets["eu-central-1b"]
    assert "refuse" in moto_table(moto_vpc)[vpc_key(a, EC2)]  # no NAT route, no endpoint

    ep = ec2.create_vpc_endpoint(
        VpcId=moto_vpc["vpc"], ServiceName="com.amazonaws.eu-central-1.ec2",
        VpcEndpointType="Interface", SubnetIds=[a, b], PrivateDnsEnabled=True)["VpcEndpoint"]
    gw = ec2.create_vpc_endpoint(
        VpcId=moto_vpc["vpc"], ServiceName="com.amazonaws.eu-central-1.dynamodb",
        VpcEndpointType="Gateway", RouteTableIds=[moto_vpc["tables"]["b"]])["VpcEndpoint"]
    t = moto_table(moto_vpc)
    via = f"{ep['VpcEndpointId']} (route down)"
    assert t[vpc_key(a, EC2)]["via"] == t[vpc_key(b, EC2)]["via"] == via
    assert t[vpc_key(b, DDB)]["via"] == f"{gw['VpcEndpointId']} (route down)"
    assert "refuse" in t[vpc_key(a, DDB)]  # its route table is not associated

    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])
    t = moto_table(moto_vpc)
    assert "ec2 API unreachable" in t[vpc_key(a, EC2)]["refuse"]
    assert "refuse" in t[vpc_key(b, EC2)]


# -- the spec and the client side --------------------------------------------------------

def test_spec_declares_the_nat_hooks_endpoints_and_refuses_unknown_services() -> None:
    eps = default_topology().network.endpoints
    assert {"ec2", "autoscaling"} <= set(eps.interface)
    assert {"s3", "dynamodb"} <= set(eps.gateway)
    raw = yaml.safe_load(default_topology().model_dump_json())
    raw["network"]["endpoints"]["interface"] = ["ec2", "ec2-messages"]
    with pytest.raises(SpecError, match="unknown interface endpoint service 'ec2-messages'"):
        parse_topology(raw)
    raw["network"]["endpoints"] = {"gateway": ["sqs"]}
    with pytest.raises(SpecError, match="unknown gateway endpoint service 'sqs'"):
        parse_topology(raw)


def test_every_aws_api_the_platform_calls_from_the_vpc_has_an_endpoint() -> None:
    """The boto3 clients platform code builds (``aws_client("...")``), less Cognito (the
    backend reads only the user pool's JWKS, over the NAT) all have an endpoint: a NAT outage
    then cuts only the internet."""
    import re
    from pathlib import Path

    import tradai

    root = Path(tradai.__file__).parent
    called = {m for p in root.rglob("*.py")
              for m in re.findall(r'aws_client\("([a-z0-9-]+)"', p.read_text())}
    called |= {"dynamodb", "stepfunctions", "ecs", "secretsmanager"}  # aws_client(name) loops
    missing = called - {"cognito-idp"} - set(default_topology().network.endpoints.clients())
    assert not missing


def test_aws_client_honours_the_service_specific_endpoint_as_botocore_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html: the
    service-specific ``AWS_ENDPOINT_URL_<SERVICE>`` overrides ``AWS_ENDPOINT_URL``."""
    from tradai.settings import AwsSettings

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1111")
    monkeypatch.setenv(service_endpoint_env("autoscaling"), "http://127.0.0.1:2222")
    s = AwsSettings()
    assert service_endpoint_env("autoscaling") == "AWS_ENDPOINT_URL_AUTO_SCALING"
    assert service_endpoint_env("stepfunctions") == "AWS_ENDPOINT_URL_SFN"
    assert aws_client("autoscaling", s).meta.endpoint_url == "http://127.0.0.1:2222"
    assert aws_client("ec2", s).meta.endpoint_url == "http://127.0.0.1:1111"
    # boto3 itself (libraries' clients) resolves the same way
    assert boto3.client("autoscaling", region_name="eu-central-1").meta.endpoint_url == \
        "http://127.0.0.1:2222"


def test_s3_clients_that_are_not_boto3s_take_the_s3_specific_endpoint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ArcticDB's URI and MLflow's artifact store (MLFLOW_S3_ENDPOINT_URL) are built from an
    endpoint URL, not by botocore: they read AWS_ENDPOINT_URL_S3 first, as botocore would (the
    S3 gateway endpoint's listener locally), else AWS_ENDPOINT_URL."""
    from tradai.data.arctic_uri import arctic_uri
    from tradai.data.settings import DataSettings
    from tradai.services.mlflow_server.command import server_env
    from tradai.services.mlflow_server.settings import MlflowServerSettings

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1111")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2222")
    monkeypatch.setenv("TRADAI_BUCKET_ARCTICDB", "arctic")
    monkeypatch.delenv("TRADAI_ARCTICDB_URI", raising=False)
    assert "port=2222" in arctic_uri(DataSettings())
    assert server_env(MlflowServerSettings(), {})["MLFLOW_S3_ENDPOINT_URL"] == \
        "http://127.0.0.1:2222"
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    assert "port=1111" in arctic_uri(DataSettings())


def test_the_known_service_ids_are_botocores() -> None:
    # settings.SERVICE_IDS spares each process reading botocore's models; they must agree.
    import botocore.session

    from tradai.settings import SERVICE_IDS

    session = botocore.session.get_session()
    assert {name: session.get_service_model(name).service_id for name in SERVICE_IDS} == \
        SERVICE_IDS
