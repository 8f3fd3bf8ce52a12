"""The routing decisions: for every router listener, where a new connection goes or why not.

Pure functions of a snapshot (EC2 state, faults in force, live egress processes), so every rule
is unit-testable. Rules, after AWS:

- A subnet cut off (``aws:network:disrupt-connectivity`` scope ``all``, or an AZ outage) gets
  nothing in or out, except traffic inside the subnet.
- Scope ``availability-zone`` denies traffic between the subnet and subnets of other AZs
  (an egress through a NAT instance in another AZ; the ALB and AWS endpoints span every AZ).
- Scope ``prefix-list`` denies traffic to and from the list's CIDRs.
- Internet egress follows the subnet's route table: ``0.0.0.0/0`` to a running NAT instance
  whose egress process is up, or to the internet gateway; a route whose instance is stopped
  or terminated is a blackhole.
- Lambdas outside the VPC ("outside") reach the AWS APIs and the internet, nothing of the VPC.
- AWS APIs: a process reaches service X's API through a VPC endpoint for X that serves its
  subnet (an interface endpoint, ``available``, with a network interface in the subnet's AZ,
  whose private DNS name is the service's own; or a gateway endpoint associated with the
  subnet's route table: its prefix-list route is more specific than ``0.0.0.0/0``), else
  through the subnet's ``0.0.0.0/0`` route: a running NAT instance (private subnets) or the
  internet gateway (public subnets, which reach AWS APIs directly). With neither, refused.
  https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html
  https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
  Each service the spec has an endpoint for gets a listener of its own (``aws:<client>``,
  handed out as ``AWS_ENDPOINT_URL_<SERVICE_ID>``); every other AWS call goes through the
  general ``aws`` listener (``AWS_ENDPOINT_URL``), which only the route serves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tradai_sim.cloud.network.view import Ec2View, SubnetView

OUTSIDE = "outside"  # the AWS-managed network of Lambdas that are not in the VPC
AWS = "aws"  # the general AWS API destination (AWS_ENDPOINT_URL)
AVAILABLE = "available"
NAT_PATH_DOWN = "(route down)"  # an endpoint's path label when the route would not serve
SCOPES = ("all", "availability-zone", "prefix-list")
Decision = dict[str, Any]


@dataclass(frozen=True)
class Destination:
    """Something of the VPC or AWS a process connects to by URL."""

    host: str
    port: int
    ips: tuple[str, ...]  # where it lives in the network model (prefix-list checks)


@dataclass(frozen=True)
class Disruption:
    id: str
    subnets: frozenset[str]
    scope: str
    cidrs: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class Eni:
    task_id: str
    subnet: str
    port: int
    ip: str | None = None


@dataclass
class Inputs:
    view: Ec2View
    destinations: dict[str, Destination]
    nat_ports: dict[str, int]  # instance id -> port of its running egress process
    igw_port: int | None
    internet_ips: tuple[str, ...]
    host: str = "127.0.0.1"
    disruptions: list[Disruption] = field(default_factory=list)
    outages: dict[str, str] = field(default_factory=dict)  # az -> label of the outage
    enis: dict[str, Eni] = field(default_factory=dict)
    # destination name ("aws:ec2") -> the VPC endpoint service that can serve it ("ec2")
    aws_services: dict[str, str] = field(default_factory=dict)
    aws_ips: tuple[str, ...] = ()  # where the AWS APIs live (prefix-list rules via a NAT)


def aws_destination(client: str) -> str:
    """The router destination of one AWS API (a boto3 client name)."""
    return f"{AWS}:{client}"


def is_aws(name: str) -> bool:
    return name == AWS or name.startswith(AWS + ":")


def vpc_key(subnet: str, dest: str) -> str:
    return f"vpc|{subnet}|{dest}"


def egress_key(subnet: str) -> str:
    return f"egress|{subnet}"


def eni_key(task_id: str) -> str:
    return f"eni|{task_id}"


def refuse(reason: str) -> Decision:
    return {"refuse": reason}


def to(host: str, port: int) -> Decision:
    return {"to": [host, port]}


def describe(subnet: SubnetView) -> str:
    return f"subnet {subnet.name} ({subnet.id}, {subnet.az})"


class Rules:
    def __init__(self, inputs: Inputs) -> None:
        self.i = inputs

    def cut_reason(self, subnet: SubnetView) -> str | None:
        if subnet.az in self.i.outages:
            return f"{describe(subnet)} is cut off: {self.i.outages[subnet.az]}"
        for d in self.i.disruptions:
            if d.scope == "all" and subnet.id in d.subnets:
                return f"{describe(subnet)} is cut off: {d.label or d.id}"
        return None

    def denied(self, subnet: SubnetView, ips: Iterable[str | None],
               az: str | None) -> str | None:
        """Scope availability-zone and prefix-list rules for traffic between ``subnet`` and a
        peer at ``ips`` in ``az`` (None: spans every AZ)."""
        ips = [ip for ip in ips if ip]
        for d in self.i.disruptions:
            if subnet.id not in d.subnets:
                continue
            if d.scope == "availability-zone" and az is not None and az != subnet.az:
                return (f"{describe(subnet)} may not reach {az}: {d.label or d.id} "
                        "(scope availability-zone)")
            if d.scope == "prefix-list" and ips and all(_in_any(ip, d.cidrs) for ip in ips):
                return (f"{describe(subnet)} may not reach {', '.join(ips)}: "
                        f"{d.label or d.id} (scope prefix-list)")
        return None

    # -- decisions ------------------------------------------------------------------------
    def vpc(self, subnet: SubnetView, name: str, dest: Destination) -> Decision:
        reason = self.cut_reason(subnet) or self.denied(subnet, dest.ips, None)
        if reason:
            return refuse(reason)
        if is_aws(name):
            return self.aws_api(subnet, name, dest)
        return to(dest.host, dest.port)

    def aws_api(self, subnet: SubnetView, name: str, dest: Destination) -> Decision:
        """An AWS API: through a VPC endpoint for it, else through the subnet's route."""
        service = self.i.aws_services.get(name)
        endpoint = (self.endpoint_for(subnet, service)
                    if service is not None and subnet.tier != "public" else None)
        through_route = self._aws_route(subnet, dest)
        if endpoint is not None:
            # The path's label says whether the route would have served it too: the router's
            # stats then show which calls only an endpoint made possible (a NAT outage).
            down = "" if "to" in through_route else f" {NAT_PATH_DOWN}"
            return {**to(dest.host, dest.port), "via": f"{endpoint}{down}"}
        if "to" in through_route:
            return through_route
        why = str(through_route["refuse"])
        if service is None:
            return refuse(f"AWS API unreachable (no VPC endpoint declared for it): {why}")
        return refuse(f"{service} API unreachable: no available VPC endpoint for {service} "
                      f"serves {describe(subnet)}, and {why}")

    def _aws_route(self, subnet: SubnetView, dest: Destination) -> Decision:
        """An AWS API through the subnet's ``0.0.0.0/0`` route, or why not."""
        route = self.i.view.routes.get(subnet.id)
        if route is not None and route.kind == "gateway":
            return {**to(dest.host, dest.port), "via": f"internet-gateway {route.target}"}
        if route is not None and route.kind == "instance" and route.target:
            via = self._through_nat(subnet, route.target, route.route_table,
                                    self.i.aws_ips or dest.ips)
            if "to" in via:
                return {**to(dest.host, dest.port), "via": f"nat {route.target}"}
            return via
        if route is None or route.kind == "none":
            table = route.route_table if route else "its route table"
            return refuse(f"{describe(subnet)}: no route to 0.0.0.0/0 in {table}")
        return refuse(f"{describe(subnet)}: route target {route.kind} {route.target} is not "
                      "modelled locally")

    def endpoint_for(self, subnet: SubnetView, service: str) -> str | None:
        """The id of an available endpoint for ``service`` that serves ``subnet``."""
        route = self.i.view.routes.get(subnet.id)
        for ep in sorted(self.i.view.endpoints.values(), key=lambda e: e.id):
            if ep.service != service or ep.state != AVAILABLE:
                continue
            if ep.kind == "gateway":
                if route is not None and route.route_table in ep.route_tables:
                    return ep.id
            elif any((s := self.i.view.subnets.get(sid)) is not None and s.az == subnet.az
                     for sid in ep.subnets):
                return ep.id
        return None

    def egress(self, subnet: SubnetView) -> Decision:
        reason = self.cut_reason(subnet)
        if reason:
            return refuse(reason)
        route = self.i.view.routes.get(subnet.id)
        if route is None or route.kind == "none":
            table = route.route_table if route else "its route table"
            return refuse(f"{describe(subnet)}: no route to 0.0.0.0/0 in {table}")
        if route.kind == "gateway":
            if self.i.igw_port is None:
                return refuse("the internet gateway's egress process is not running")
            reason = self.denied(subnet, self.i.internet_ips, None)
            return refuse(reason) if reason else to(self.i.host, self.i.igw_port)
        if route.kind != "instance" or not route.target:
            return refuse(f"{describe(subnet)}: route target {route.kind} {route.target} "
                          "is not modelled locally")
        return self._through_nat(subnet, route.target, route.route_table, self.i.internet_ips)

    def _through_nat(self, subnet: SubnetView, instance_id: str, table: str,
                     beyond: tuple[str, ...]) -> Decision:
        """Through the NAT instance to ``beyond`` (the internet, or the AWS APIs)."""
        inst = self.i.view.instances.get(instance_id)
        if inst is None or inst.state in ("stopped", "stopping", "terminated",
                                          "shutting-down"):
            state = inst.state if inst else "gone"
            return refuse(f"{describe(subnet)}: route 0.0.0.0/0 in {table} is a blackhole "
                          f"(NAT instance {instance_id} {state})")
        port = self.i.nat_ports.get(instance_id)
        if port is None:
            return refuse(f"NAT instance {instance_id} is {inst.state} but not forwarding yet")
        nat_subnet = self.i.view.subnets.get(inst.subnet or "")
        if nat_subnet is not None:
            reason = self.cut_reason(nat_subnet)
            if reason:
                return refuse(f"NAT instance {instance_id} unreachable: {reason}")
        reason = (self.denied(subnet, [inst.private_ip], inst.az)
                  or self.denied(subnet, beyond, None))
        return refuse(reason) if reason else to(self.i.host, port)

    def eni(self, eni: Eni) -> Decision:
        subnet = self.i.view.subnets.get(eni.subnet)
        if subnet is None:
            return to(self.i.host, eni.port)  # a task without awsvpc placement
        reason = self.cut_reason(subnet)
        return refuse(reason) if reason else to(self.i.host, eni.port)


def routes(inputs: Inputs) -> dict[str, Decision]:
    """The decision of every listener the router should have."""
    rules = Rules(inputs)
    out: dict[str, Decision] = {}
    for subnet in inputs.view.subnets.values():
        for name, dest in inputs.destinations.items():
            out[vpc_key(subnet.id, name)] = rules.vpc(subnet, name, dest)
        out[egress_key(subnet.id)] = rules.egress(subnet)
    for name, dest in inputs.destinations.items():
        out[vpc_key(OUTSIDE, name)] = (to(dest.host, dest.port) if is_aws(name) else refuse(
            f"a Lambda outside the VPC has no route to {name} (a VPC-internal address)"))
    out[egress_key(OUTSIDE)] = (to(inputs.host, inputs.igw_port) if inputs.igw_port
                                else refuse("the internet gateway's egress process is down"))
    for eni in inputs.enis.values():
        out[eni_key(eni.task_id)] = rules.eni(eni)
    return out


def _in_any(ip: str, cidrs: Iterable[str]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(c, strict=False) for c in cidrs)
