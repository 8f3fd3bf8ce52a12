"""This stack's answer to what the spec cannot say (``tradai.topology.runtime_config``): the
names, URLs and ids the bootstrap's earlier steps created, read from ``ctx.resources``, and who
is told what, by the rule the Pulumi program uses (``tradai.topology.flows.told``): a
resource's name only if the component's access in the spec names it, MLflow's URL only if
MLflow admits it. Every component gets the names AWS gives it; the only others are
``SIM_SHARED`` and MLflow's ``service_env`` (``tests/infra/test_env_parity.py``)."""

from __future__ import annotations

import json
from typing import Any

from tradai.topology.flows import told
from tradai.topology.runtime_config import Deployment
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.edge.part import MLFLOW_PUBLIC_URL_ENV
from tradai_sim.cloud.edge.part import PORTS_KEY as EDGE_PORTS_KEY
from tradai_sim.cloud.internet.part import EXCHANGE_URL_ENV

# What the harness publishes to every component (``task_env``) and the deployment passes on:
# the run links' base, as on AWS, and where the exchange stand-in listens (on AWS the
# exchange is the internet: no variable). The rest of ``task_env`` (discovery URLs, MLflow's
# login and data dir) is the harness's own record: the spec tells each component its URLs and
# secrets through ``told``, MLflow its data dir through ``service_env``.
SIM_SHARED = (MLFLOW_PUBLIC_URL_ENV, EXCHANGE_URL_ENV)


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
        told=told(topo),
        shared={k: v for k, v in r.get("task_env", {}).items() if k in SIM_SHARED},
        own={name: dict(env) for name, env in r.get("service_env", {}).items()},
    )
