"""This stack's answer to what the spec cannot say (``tradai.topology.runtime_config``): the
names, URLs and ids the bootstrap's earlier steps created, read from ``ctx.resources``, and who
is told what: as on AWS, a component learns a resource's name only if its access in the spec
names it (``tradai.topology.access``), since the local cloud judges its calls by that access."""

from __future__ import annotations

import json
from typing import Any

from tradai.topology.access import told_by_access
from tradai.topology.runtime_config import Deployment
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.edge.part import PORTS_KEY as EDGE_PORTS_KEY


def local_deployment(ctx: CloudContext) -> Deployment[str]:
    r = ctx.resources
    topo = ctx.topology
    ports: Any = r.get(EDGE_PORTS_KEY)
    cognito = r.get("cognito", {})  # the identity step's pool and client
    # Each service through its discovery port on the VPC router (Cloud Map names on AWS);
    # the local ALB strips MLflow's prefix, so its URL has none.
    services = ({s: ports.url(port) for s, port in ports.discovery.items()}
                if ports is not None else {})
    return Deployment(
        env=ctx.env,
        region=ctx.region,
        cluster=ctx.name(topo.cluster),
        queues=dict(r["queues"]["urls"]),
        tables=dict(r["tables"]),
        buckets=dict(r["buckets"]),
        topics=dict(r["topics"]),
        secrets={s.name: ctx.name(s.name) for s in topo.secrets},
        services=services,
        private_subnets=json.dumps(list(r["subnets"]["private"].values())),
        strategy_security_groups=json.dumps([r["security_groups"]["strategy-tasks"]]),
        private_route_tables=json.dumps([rt for name, rt in r["route_tables"].items()
                                         if "private-rt" in name]),
        user_pool_id=cognito.get("user_pool_id"),
        app_client_id=cognito.get("client_id"),
        # Services' URLs go to everyone: which service admits whom is the network's
        # (security groups on AWS), not IAM's.
        told=told_by_access(topo),
        shared=dict(r.get("task_env", {})),
        own={name: dict(env) for name, env in r.get("service_env", {}).items()},
    )
