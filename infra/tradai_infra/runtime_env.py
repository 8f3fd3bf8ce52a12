"""This stack's answer to what the spec cannot say (``tradai.topology.runtime_config``, the one
builder the local bootstrap uses too): physical names, queue URLs and topic ARNs as Pulumi
Outputs, Cloud Map URLs, and who is told what.

A component is told the name of every resource its access (the spec's ``access`` entry,
``tradai.topology.access``) lets it use, and MLflow's URL only if MLflow's security group admits
it (``tradai.topology.flows``, the rule the local cloud follows too): being told a resource it
may not touch would only turn a configuration slip into an AccessDenied at run time.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from tradai.topology.flows import told
from tradai.topology.runtime_config import Deployment
from tradai_infra.context import Context
from tradai_infra.edge import Identity
from tradai_infra.mlflow_access import SERVICE as MLFLOW
from tradai_infra.mlflow_access import mlflow_url
from tradai_infra.network import TASKS, Network

DRIFT_DETECTOR = "pulumi-drift-detector"
MLFLOW_PUBLIC_URL_ENV = "TRADAI_MLFLOW_PUBLIC_URL"  # tradai.strategy_container.settings
# Where services listen inside their task: every interface, since the ALB and Cloud Map
# clients reach the task over its ENI.
BIND_ALL = "0.0.0.0"


def service_url(ctx: Context, service: str) -> str:
    """A service's URL through Cloud Map (compute.py's namespace); MLflow's under its static
    prefix (mlflow_access.py)."""
    if service == MLFLOW:
        return mlflow_url(ctx)
    return (f"http://{service}.{ctx.topo.project}-{ctx.env}.local:"
            f"{ctx.topo.service(service).port}")


def aws_deployment(ctx: Context, net: Network, queues: dict[str, aws.sqs.Queue],
                   topics: dict[str, pulumi.Input[str]],
                   bucket_names: dict[str, pulumi.Output[str]],
                   identity: Identity,
                   mlflow_public_url: pulumi.Input[str] | None = None,
                   ) -> Deployment[pulumi.Input[str]]:
    topo = ctx.topo

    def json_list(*values: pulumi.Input[str]) -> pulumi.Output[str]:
        return pulumi.Output.all(*values).apply(lambda v: json.dumps(list(v)))

    return Deployment(
        env=ctx.env,
        region=ctx.region,
        cluster=ctx.cluster_name,
        queues={n: q.url for n, q in queues.items()},
        tables={t.name: ctx.name(t.name) for t in topo.tables},
        buckets=dict(bucket_names),
        topics=dict(topics),
        secrets={s.name: ctx.name(s.name) for s in topo.secrets},
        services={s.name: service_url(ctx, s.name) for s in topo.services},
        private_subnets=json_list(*net.private_subnet_ids),
        strategy_security_groups=json_list(net.groups[TASKS].id),
        # update-nat-routes repoints these when the NAT instance is replaced (one per AZ).
        private_route_tables=json_list(*[rt.id for rt in net.private_route_tables]),
        user_pool_id=identity.pool.id,
        app_client_id=identity.client.id,
        bind_host=BIND_ALL,
        told=told(topo),
        # What a user's browser opens for a run (the API's /mlflow route, MLflow's basic auth).
        shared={MLFLOW_PUBLIC_URL_ENV: mlflow_public_url} if mlflow_public_url else {},
        # The drift detector previews this very stack; the zip package carries neither the
        # Pulumi CLI nor this project, so in AWS it reports "unavailable" (infra/README.md).
        own={DRIFT_DETECTOR: {"TRADAI_PULUMI_STACK": ctx.env,
                              "TRADAI_PULUMI_WORK_DIR": "/var/task/infra"}},
    )
