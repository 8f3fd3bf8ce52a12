"""The private subnets reach AWS APIs without the NAT: the spec's VPC endpoints, deployed.

Without them the in-VPC update-nat-routes hook cannot call EC2 or Auto Scaling while no NAT
instance forwards, which is exactly when it runs (issue 16: the NAT deadlock). Interface
endpoints need private DNS, so the SDK's default names resolve to them
(https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html), and
a network interface in each AZ's private subnet, so losing one AZ keeps the other's; gateway
endpoints are routes in the route tables they are associated with
(https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html).
"""

from __future__ import annotations

from tests.infra.conftest import Deployed

VPCE = "aws:ec2/vpcEndpoint:VpcEndpoint"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
REGION = "eu-central-1"


def _endpoints(deployed: Deployed) -> dict[str, dict]:
    prefix = f"com.amazonaws.{REGION}."
    return {r.inputs["serviceName"].removeprefix(prefix): r.inputs
            for r in deployed.of_type(VPCE)}


def _ids(deployed: Deployed, typ: str, names: list[str]) -> set[str]:
    return {deployed.one(typ, deployed.name(n)).id for n in names}


def test_the_nat_hooks_ec2_and_autoscaling_endpoints_have_private_dns_in_both_azs(
        deployed: Deployed):
    private = _ids(deployed, "aws:ec2/subnet:Subnet",
                   [f"private-{az.name}" for az in deployed.topo.network.azs])
    eps = _endpoints(deployed)
    for svc in ("ec2", "autoscaling"):
        assert svc in eps, f"no {svc} endpoint: update-nat-routes cannot run while the NAT is down"
        ep = eps[svc]
        assert ep["vpcEndpointType"] == "Interface"
        assert ep["privateDnsEnabled"] is True, svc
        assert set(ep["subnetIds"]) == private, svc


def test_every_spec_endpoint_is_deployed_as_declared(deployed: Deployed):
    spec = deployed.topo.network.endpoints
    eps = _endpoints(deployed)
    assert set(eps) == set(spec.gateway) | set(spec.interface)
    private_rts = _ids(deployed, "aws:ec2/routeTable:RouteTable",
                       [f"private-rt-{az.name}" for az in deployed.topo.network.azs])
    group = deployed.one(SG, deployed.name("sg-vpc-endpoints")).id
    for svc in spec.gateway:
        assert eps[svc]["vpcEndpointType"] == "Gateway"
        assert set(eps[svc]["routeTableIds"]) == private_rts, svc
    for svc in spec.interface:
        assert eps[svc]["vpcEndpointType"] == "Interface"
        assert eps[svc]["privateDnsEnabled"] is True
        assert eps[svc]["securityGroupIds"] == [group], svc


def test_interface_endpoints_admit_https_from_the_private_subnets_only(deployed: Deployed):
    group = deployed.one(SG, deployed.name("sg-vpc-endpoints")).id
    rules = [r.inputs for r in deployed.where(INGRESS, securityGroupId=group)]
    assert sorted((r["cidrIpv4"], r["ipProtocol"], r["fromPort"], r["toPort"]) for r in rules) \
        == sorted((az.private, "tcp", 443, 443) for az in deployed.topo.network.azs)


def test_health_check_reaches_every_service_on_its_port_and_no_other_function_gains_it(
        deployed: Deployed):
    """health-check probes each service's /health (through Cloud Map): each service's group
    admits the health-check function's group on the service's port, and only that function
    carries the group."""
    probes = deployed.one(SG, deployed.name("sg-health-probes")).id
    for svc in deployed.topo.services:
        group = deployed.one(SG, deployed.name(f"sg-{svc.name}")).id
        ports = [(r.inputs["fromPort"], r.inputs["toPort"])
                 for r in deployed.where(INGRESS, securityGroupId=group)
                 if r.inputs.get("referencedSecurityGroupId") == probes]
        assert ports == [(svc.port, svc.port)], svc.name
    carriers = [fn.inputs["name"] for fn in deployed.of_type("aws:lambda/function:Function")
                if probes in (fn.inputs.get("vpcConfig") or {}).get("securityGroupIds", [])]
    assert carriers == [deployed.name("health-check")]
