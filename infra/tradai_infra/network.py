"""VPC, subnets, routing, VPC endpoints, NACLs and the security groups of the communication
matrix.

Security groups only admit the flows of the architecture's section 4; every service ingress
rule names a source security group, never a CIDR.

The private subnets reach AWS APIs through the spec's VPC endpoints (``network.endpoints``),
not only through the NAT instance: the update-nat-routes hook, which repoints the routes at a
new NAT, runs in those subnets and must reach EC2 and Auto Scaling while no NAT forwards
(https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html;
gateway endpoints: https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.topology.flows import (  # the communication matrix, shared with the local cloud
    ALB,
    DATABASE,
    DATABASE_CLIENTS,
    HEALTH_PROBES,
    LAMBDAS,
    MLFLOW_CLIENTS,
    NAT,
    PEER_FLOWS,
    TASKS,
    VPC_LINK,
)
from tradai_infra.context import Context

ANYWHERE = "0.0.0.0/0"
ALB_PORT = 80
POSTGRES_PORT = 5432

# The interface endpoints' network interfaces: HTTPS from the private subnets only.
ENDPOINTS = "vpc-endpoints"
HTTPS = 443


@dataclass(frozen=True)
class Network:
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    database_subnets: list[aws.ec2.Subnet]
    private_route_tables: list[aws.ec2.RouteTable]
    groups: dict[str, aws.ec2.SecurityGroup]  # the callers above plus one per service
    endpoints: dict[str, aws.ec2.VpcEndpoint]  # by the spec's service name ("ec2", "s3")

    @property
    def private_subnet_ids(self) -> list[pulumi.Output[str]]:
        return [s.id for s in self.private_subnets]


def build_network(ctx: Context) -> Network:
    spec = ctx.topo.network
    vpc = aws.ec2.Vpc(
        ctx.name("vpc"),
        cidr_block=spec.vpc_cidr,
        enable_dns_hostnames=True,  # Cloud Map names (data-collection.tradai-{env}.local)
        enable_dns_support=True,
        tags={**ctx.tags, "Name": ctx.name("vpc")},
    )
    igw = aws.ec2.InternetGateway(ctx.name("igw"), vpc_id=vpc.id, tags=ctx.tags)

    tiers: dict[str, list[aws.ec2.Subnet]] = {"public": [], "private": [], "database": []}
    for az_spec, az in zip(spec.azs, ctx.settings.azs, strict=True):
        for tier in tiers:
            name = ctx.name(f"{tier}-{az_spec.name}")
            tiers[tier].append(
                aws.ec2.Subnet(
                    name,
                    vpc_id=vpc.id,
                    cidr_block=getattr(az_spec, tier),
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    tags={**ctx.tags, "Name": name, "tier": tier},
                )
            )

    public_rt = aws.ec2.RouteTable(
        ctx.name("public-rt"),
        vpc_id=vpc.id,
        routes=[{"cidr_block": ANYWHERE, "gateway_id": igw.id}],
        tags=ctx.tags,
    )
    # The private default route points at the NAT instance; the update-nat-routes Lambda owns
    # it, because the instance changes whenever the Auto Scaling group replaces it.
    private_rts = [
        aws.ec2.RouteTable(ctx.name(f"private-rt-{az.name}"), vpc_id=vpc.id, tags=ctx.tags)
        for az in spec.azs
    ]
    database_rt = aws.ec2.RouteTable(ctx.name("database-rt"), vpc_id=vpc.id, tags=ctx.tags)
    for i, az in enumerate(spec.azs):
        for tier, rt in (("public", public_rt), ("private", private_rts[i]),
                         ("database", database_rt)):
            aws.ec2.RouteTableAssociation(
                ctx.name(f"{tier}-rta-{az.name}"), subnet_id=tiers[tier][i].id, route_table_id=rt.id
            )
    _nacls(ctx, vpc, tiers)
    groups = _security_groups(ctx, vpc)
    endpoints = _endpoints(ctx, vpc, tiers["private"], private_rts, groups[ENDPOINTS])
    return Network(
        vpc=vpc,
        public_subnets=tiers["public"],
        private_subnets=tiers["private"],
        database_subnets=tiers["database"],
        private_route_tables=private_rts,
        groups=groups,
        endpoints=endpoints,
    )


def _endpoints(ctx: Context, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet],
               private_rts: list[aws.ec2.RouteTable],
               group: aws.ec2.SecurityGroup) -> dict[str, aws.ec2.VpcEndpoint]:
    """The spec's endpoints: gateway ones on the private route tables; interface ones with a
    network interface in every AZ's private subnet and private DNS, so the SDK's default
    service names resolve to them (the VPC has DNS support and hostnames on)."""
    spec = ctx.topo.network.endpoints
    out: dict[str, aws.ec2.VpcEndpoint] = {}
    for svc in spec.gateway:
        out[svc] = aws.ec2.VpcEndpoint(
            ctx.name(f"{svc}-endpoint"),
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{ctx.region}.{svc}",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={**ctx.tags, "Name": ctx.name(f"{svc}-endpoint")},
        )
    for svc in spec.interface:
        name = ctx.name(f"{svc.replace('.', '-')}-endpoint")
        out[svc] = aws.ec2.VpcEndpoint(
            name,
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{ctx.region}.{svc}",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=[s.id for s in private],
            security_group_ids=[group.id],
            tags={**ctx.tags, "Name": name},
        )
    return out


def _nacls(ctx: Context, vpc: aws.ec2.Vpc, tiers: dict[str, list[aws.ec2.Subnet]]) -> None:
    """Stateless second layer: the database tier only talks PostgreSQL to private subnets."""
    spec = ctx.topo.network
    private_cidrs = [az.private for az in spec.azs]

    def rule(no: int, cidr: str, lo: int = 0, hi: int = 0, proto: str = "-1") -> dict:
        return {"rule_no": no, "action": "allow", "protocol": proto, "cidr_block": cidr,
                "from_port": lo, "to_port": hi}

    open_tier_ingress = [rule(100, spec.vpc_cidr), rule(200, ANYWHERE, 1024, 65535, "tcp")]
    acls = {
        # ALB + NAT: anything from the VPC, return traffic from the internet.
        "public": (open_tier_ingress, [rule(100, ANYWHERE)]),
        "private": (open_tier_ingress, [rule(100, ANYWHERE)]),
        "database": (
            [rule(100 + i, c, POSTGRES_PORT, POSTGRES_PORT, "tcp")
             for i, c in enumerate(private_cidrs)],
            [rule(100 + i, c, 1024, 65535, "tcp") for i, c in enumerate(private_cidrs)],
        ),
    }
    for tier, (ingress, egress) in acls.items():
        aws.ec2.NetworkAcl(
            ctx.name(f"{tier}-nacl"),
            vpc_id=vpc.id,
            subnet_ids=[s.id for s in tiers[tier]],
            ingress=ingress,
            egress=egress,
            tags=ctx.tags,
        )


def _security_groups(ctx: Context, vpc: aws.ec2.Vpc) -> dict[str, aws.ec2.SecurityGroup]:
    cidr = ctx.topo.network.vpc_cidr
    names = [ALB, VPC_LINK, LAMBDAS, MLFLOW_CLIENTS, HEALTH_PROBES, TASKS, DATABASE, NAT,
             ENDPOINTS] + [s.name for s in ctx.topo.services]
    groups = {
        n: aws.ec2.SecurityGroup(
            ctx.name(f"sg-{n}"),
            name=ctx.name(f"sg-{n}"),
            description=f"TradAI {ctx.env} {n}",
            vpc_id=vpc.id,
            tags=ctx.tags,
        )
        for n in names
    }

    def allow(source: str, target: str, port: int) -> None:
        aws.vpc.SecurityGroupIngressRule(
            ctx.name(f"in-{target}-from-{source}-{port}"),
            security_group_id=groups[target].id,
            referenced_security_group_id=groups[source].id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{source} -> {target}:{port}",
        )

    allow(VPC_LINK, ALB, ALB_PORT)
    for svc in ctx.topo.services:
        if svc.load_balanced:
            allow(ALB, svc.name, svc.port)
    for source, target in PEER_FLOWS:
        allow(source, target, ctx.topo.service(target).port)
    for svc in ctx.topo.services:  # health-check probes each service's /health on its port
        allow(HEALTH_PROBES, svc.name, svc.port)
    for client in DATABASE_CLIENTS:
        allow(client, DATABASE, POSTGRES_PORT)
    # The NAT instance forwards whatever the private subnets send to the internet.
    for i, az in enumerate(ctx.topo.network.azs):
        aws.vpc.SecurityGroupIngressRule(
            ctx.name(f"in-nat-from-private-{az.name}"),
            security_group_id=groups[NAT].id,
            cidr_ipv4=az.private,
            ip_protocol="-1",
            description=f"private subnet {i + 1} egress",
        )
        # The interface endpoints answer HTTPS from the private subnets (the callers' own
        # groups already allow 443 out).
        aws.vpc.SecurityGroupIngressRule(
            ctx.name(f"in-endpoints-from-private-{az.name}"),
            security_group_id=groups[ENDPOINTS].id,
            cidr_ipv4=az.private,
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            description=f"private subnet {az.name} -> AWS APIs over the interface endpoints",
        )

    for n, group in groups.items():
        if n in (DATABASE, ENDPOINTS):
            continue  # they answer on established connections; no egress needed.
        if n in (NAT, TASKS, LAMBDAS) or n in {s.name for s in ctx.topo.services}:
            # HTTPS to AWS APIs, the exchange and Pulumi; the NAT forwards all protocols.
            aws.vpc.SecurityGroupEgressRule(
                ctx.name(f"out-{n}-internet"),
                security_group_id=group.id,
                cidr_ipv4=ANYWHERE,
                ip_protocol="-1" if n == NAT else "tcp",
                from_port=None if n == NAT else 443,
                to_port=None if n == NAT else 443,
            )
        aws.vpc.SecurityGroupEgressRule(
            ctx.name(f"out-{n}-vpc"),
            security_group_id=group.id,
            cidr_ipv4=cidr,
            ip_protocol="-1",
            description="peers inside the VPC (ingress rules decide who answers)",
        )
    return groups
