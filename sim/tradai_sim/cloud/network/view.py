"""What the network needs to know of the emulator's EC2 state, read in-process from moto.

Read every 0.1 wall seconds by the network part, so it must be cheap: plain dict walks over
moto's backend, no API calls. The result is a plain snapshot the routing decisions are made
from (``table.py``), testable without moto.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True)
class SubnetView:
    id: str
    name: str  # "private-a": tier and AZ letter, as the spec names them
    tier: str
    az: str
    cidr: str


@dataclass(frozen=True)
class DefaultRoute:
    """A subnet's ``0.0.0.0/0`` route: its table and target, as describe_route_tables shows."""

    route_table: str
    kind: str  # "instance", "gateway", "nat-gateway", "none"
    target: str | None


@dataclass(frozen=True)
class InstanceView:
    id: str
    state: str  # pending | running | stopping | stopped | shutting-down | terminated
    subnet: str | None
    az: str | None
    private_ip: str | None


@dataclass(frozen=True)
class EndpointView:
    """A VPC endpoint, as describe_vpc_endpoints shows it."""

    id: str
    service: str  # the name after com.amazonaws.<region>. ("ec2", "s3", "ecr.api")
    kind: str  # "interface" | "gateway"
    state: str  # available | pending | deleting | deleted | ...
    subnets: tuple[str, ...] = ()  # interface: where its network interfaces are
    route_tables: tuple[str, ...] = ()  # gateway: the route tables it is associated with


@dataclass
class Ec2View:
    subnets: dict[str, SubnetView] = field(default_factory=dict)
    routes: dict[str, DefaultRoute] = field(default_factory=dict)  # by subnet id
    instances: dict[str, InstanceView] = field(default_factory=dict)  # the NAT group's
    prefix_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> CIDRs
    endpoints: dict[str, EndpointView] = field(default_factory=dict)  # the VPC's endpoints


def read_ec2(account_id: str, region: str, subnets_by_tier: dict[str, dict[str, str]],
             nat_group: str | None, vpc_id: str | None = None) -> Ec2View:
    from moto.autoscaling import autoscaling_backends
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account_id][region]
    view = Ec2View()
    for tier, by_zone in subnets_by_tier.items():
        for zone, sid in by_zone.items():
            subnet = ec2.get_subnet(sid)
            view.subnets[sid] = SubnetView(sid, f"{tier}-{zone[-1]}", tier, zone,
                                           str(subnet.cidr_block))
    for table in list(ec2.route_tables.values()):
        default = next((r for r in table.routes
                        if r.destination_cidr_block == DEFAULT_ROUTE), None)
        route = _default_route(table.id, default)
        for target in list(table._associations.values()):
            if target in view.subnets:
                view.routes[target] = route
    ids: set[str] = set()
    group = autoscaling_backends[account_id][region].autoscaling_groups.get(nat_group or "")
    if group is not None:
        ids = {s.instance.id for s in group.instance_states}
    # Instances a route names matter too, whether or not the group still counts them.
    ids |= {r.target for r in view.routes.values() if r.kind == "instance" and r.target}
    for reservation in list(ec2.reservations.values()):
        for inst in reservation.instances:
            if inst.id in ids:
                view.instances[inst.id] = InstanceView(
                    inst.id, inst.state, inst.subnet_id, inst.availability_zone,
                    inst.private_ip)
    for pl in list(ec2.managed_prefix_lists.values()):
        entries = pl.entries.get(pl.version) or []
        view.prefix_lists[pl.id] = tuple(e["Cidr"] for e in entries if e.get("Cidr"))
    prefix = f"com.amazonaws.{region}."
    for ep in list(ec2.vpc_end_points.values()):
        if vpc_id is not None and ep.vpc_id != vpc_id:
            continue
        service = str(ep.service_name)
        view.endpoints[ep.id] = EndpointView(
            ep.id, service[len(prefix):] if service.startswith(prefix) else service,
            str(ep.vpc_endpoint_type or "gateway").lower(), str(ep.state),
            tuple(ep.subnet_ids or ()), tuple(ep.route_table_ids or ()))
    return view


def _default_route(table_id: str, route: Any) -> DefaultRoute:
    if route is None:
        return DefaultRoute(table_id, "none", None)
    if route.instance is not None:
        return DefaultRoute(table_id, "instance", route.instance.id)
    if route.nat_gateway is not None:
        return DefaultRoute(table_id, "nat-gateway", route.nat_gateway.id)
    if route.gateway is not None:
        return DefaultRoute(table_id, "gateway", route.gateway.id)
    return DefaultRoute(table_id, "none", None)
