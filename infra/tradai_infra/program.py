"""The whole deployment, component by component, in dependency order."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.topology import Topology, default_topology
from tradai.topology.runtime_config import runtime_config
from tradai_infra.compute import build_compute
from tradai_infra.config import StackSettings, load_settings
from tradai_infra.context import Context
from tradai_infra.database import build_database
from tradai_infra.edge import build_api, build_edge, build_identity, mlflow_public_url
from tradai_infra.faults import build_faults, plan_faults
from tradai_infra.functions import build_functions
from tradai_infra.image_build import require_docker_engine
from tradai_infra.lambda_package import package_lambdas
from tradai_infra.monitoring import build_alarms, build_topics, build_trail
from tradai_infra.nat import build_nat
from tradai_infra.network import build_network
from tradai_infra.orchestration import build_state_machines
from tradai_infra.queues import build_queues
from tradai_infra.resource_arns import build_arns
from tradai_infra.runtime_env import aws_deployment
from tradai_infra.secret_values import GATEWAY_CLIENT_SECRET
from tradai_infra.storage import build_storage
from tradai_infra.validate import unbuilt, validate


@dataclass(frozen=True)
class Deployment:
    api: aws.apigatewayv2.Api
    state_machines: dict[str, aws.sfn.StateMachine]
    functions: dict[str, aws.lambda_.Function]


def deploy(settings: StackSettings, topo: Topology | None = None) -> Deployment:
    topo = topo or default_topology()
    validate(topo, settings)  # raises before the first resource is declared
    faults = plan_faults(topo, settings)  # likewise: every fault template checked
    if settings.build_image:  # likewise: the build needs an engine here
        require_docker_engine()
    skipped, skipped_machines = unbuilt(topo)  # raises for a required function without code
    if skipped:
        pulumi.log.warn("not deployed, their handler modules do not exist in tradai yet: "
                        f"Lambda functions {', '.join(skipped)}; state machines "
                        f"{', '.join(skipped_machines) or 'none'}")
    # The functions' code and dependency layer, built and held to Lambda's size limits.
    package_lambdas(settings.lambda_layers)

    identity = aws.get_caller_identity_output()
    ctx = Context(topo=topo, settings=settings, account_id=identity.account_id)
    net = build_network(ctx)
    storage = build_storage(ctx)
    queues = build_queues(ctx)
    topics = build_topics(ctx)
    database = build_database(ctx, net, storage)
    arns = build_arns(ctx, net, storage, queues, topics)
    identity = build_identity(ctx)
    api = build_api(ctx)
    # One runtime configuration for every container and function (tradai.topology.runtime_config).
    deployment = aws_deployment(ctx, net, queues, arns.topics, storage.bucket_names, identity,
                                mlflow_public_url(ctx, api))
    compute = build_compute(ctx, net, arns, database, deployment)
    functions = build_functions(ctx, net, arns, queues, runtime_config(topo, deployment),
                                skip=set(skipped))
    build_nat(ctx, net, functions[topo.network.nat.lifecycle_hook.target_lambda])
    machines = build_state_machines(ctx, compute, net, arns, functions,
                                    skip=set(skipped_machines))
    alarms = build_alarms(ctx, queues, topics, compute)
    # Before the edge: the operator group's role may start these experiments.
    templates = build_faults(ctx, net, alarms, faults)
    build_edge(ctx, net, compute, api, queues, identity, templates,
                     client_secret=storage.secrets.get(GATEWAY_CLIENT_SECRET))
    build_trail(ctx)

    pulumi.export("api_url", api.api_endpoint)
    pulumi.export("vpc_id", net.vpc.id)
    pulumi.export("cluster", compute.cluster.name)
    pulumi.export("state_machines", {n: m.arn for n, m in machines.items()})
    pulumi.export("queues", {n: q.url for n, q in queues.items()})
    # Names and ARNs only: no secret value is ever a stack output.
    pulumi.export("mlflow_db_secret", storage.secrets[topo.database.secret].arn)
    pulumi.export("buckets", storage.bucket_names)
    return Deployment(api=api, state_machines=machines, functions=functions)


def config_getter(key: str) -> str | None:
    namespace, _, name = key.partition(":")
    return pulumi.Config(namespace).get(name)


def main() -> None:
    """Entry point of ``pulumi up``: the stack name is the environment (dev, prod)."""
    deploy(load_settings(pulumi.get_stack(), config_getter))
