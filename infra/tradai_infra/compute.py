"""ECS: cluster, the ECR repository of the one platform image, the four services behind an
internal ALB, and the on-demand task definitions that Step Functions and the services launch;
every container runs the image ``tradai:image`` names, or the one built here by digest
(``tradai:buildImage``, image_build.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from tradai.topology import load_balancing as lb
from tradai.topology.ecs_secrets import execution_secrets
from tradai.topology.iam_policy import POLICY_NAME
from tradai.topology.model import Service
from tradai.topology.runtime_config import Deployment, runtime_config
from tradai_infra.context import Context
from tradai_infra.iam import Statement, role_with_document, role_with_policy
from tradai_infra.image import REPOSITORY
from tradai_infra.image_build import build_image, content_tag
from tradai_infra.mlflow_access import ALLOWED_HOSTS_ENV, STATIC_PREFIX_ENV, allowed_hosts
from tradai_infra.mlflow_access import SERVICE as MLFLOW
from tradai_infra.mlflow_access import health_path as mlflow_health_path
from tradai_infra.mlflow_access import static_prefix as mlflow_prefix
from tradai_infra.network import ALB, ALB_PORT, Network
from tradai_infra.permissions import Arns, role_policy
from tradai_infra.resource_arns import TASK_ROLE
from tradai_infra.secret_values import container_secrets

LOG_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Compute:
    cluster: aws.ecs.Cluster
    listener: aws.lb.Listener
    load_balancer: aws.lb.LoadBalancer
    services: dict[str, aws.ecs.Service]
    task_definitions: dict[str, aws.ecs.TaskDefinition]
    repository: aws.ecr.Repository  # the one platform image's (tradai:image may name another)
    target_groups: dict[str, aws.lb.TargetGroup]  # load-balanced services (their alarms)


def build_compute(ctx: Context, net: Network, arns: Arns, database: aws.rds.Instance,
                  deployment: Deployment[pulumi.Input[str]]) -> Compute:
    topo = ctx.topo
    cluster = aws.ecs.Cluster(
        ctx.cluster_name,
        name=ctx.cluster_name,
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=ctx.tags,
    )
    spot = any(td.spot_modes for td in topo.task_definitions)
    aws.ecs.ClusterCapacityProviders(
        ctx.name("capacity-providers"),
        cluster_name=cluster.name,
        # Spot modes (dry-run) are launched with a FARGATE_SPOT capacity provider strategy.
        capacity_providers=["FARGATE", "FARGATE_SPOT"] if spot else ["FARGATE"],
        default_capacity_provider_strategies=[{"capacity_provider": "FARGATE", "weight": 1}],
    )
    # One image for every service and task (the repository's Dockerfile; the mode comes from
    # the command and environment): one ECR repository, one reference (``tradai:image``).
    repo = aws.ecr.Repository(
        ctx.name(REPOSITORY),
        name=ctx.name(REPOSITORY),
        image_scanning_configuration={"scan_on_push": True},
        # Release tags cannot be moved: a tag names one image for ever.
        image_tag_mutability="IMMUTABLE",
        encryption_configurations=[{"encryption_type": "AES256"}],
        force_delete=not ctx.settings.is_production,
        tags=ctx.tags,
    )
    image = ctx.settings.image
    image_uri: pulumi.Output[str]
    if image is None:  # tradai:buildImage: built and pushed here, run by its digest
        image_uri = build_image(ctx.name("platform-image"), repo, content_tag())
    elif image.registry is None:
        image_uri = repo.repository_url.apply(image.uri)
    else:
        image_uri = pulumi.Output.from_input(image.uri())
    pulled_repo: pulumi.Input[str] = (
        repo.arn if image is None or image.registry is None else
        f"arn:aws:ecr:{image.region}:{image.account}:repository/{image.repository}")
    images = [s.name for s in topo.services] + [t.name for t in topo.task_definitions]
    logs = {
        n: aws.cloudwatch.LogGroup(
            ctx.name(f"{n}-logs"),
            name=f"/ecs/{ctx.name(n)}",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=ctx.tags,
        )
        for n in images
    }
    # The execution role reads exactly the secrets some container's ECS ``secrets`` name.
    injected = [arns.secrets[n] for n in execution_secrets(images)]
    execution_role = role_with_policy(
        ctx.name("ecs-execution"),
        ctx.role_name("ecs", "execution"),
        "ecs-tasks.amazonaws.com",
        [
            # GetAuthorizationToken has no resource-level permissions.
            Statement(("ecr:GetAuthorizationToken",), ("*",)),
            Statement(
                ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                 "ecr:GetDownloadUrlForLayer"),
                (pulled_repo,),
            ),
            Statement(
                ("logs:CreateLogStream", "logs:PutLogEvents"),
                tuple(g.arn.apply(lambda a: f"{a}:*") for g in logs.values()),
            ),
            *([Statement(("secretsmanager:GetSecretValue",), tuple(injected))]
              if injected else []),
        ],
        ctx.tags,
    )
    namespace = aws.servicediscovery.PrivateDnsNamespace(
        ctx.name("namespace"),
        name=f"{topo.project}-{ctx.env}.local",
        vpc=net.vpc.id,
        tags=ctx.tags,
    )
    alb, listener, target_groups = _load_balancer(ctx, net)
    # Every container's environment from the one runtime configuration (runtime_env.py), with
    # what only MLflow's container is told: its database and Host names, known only here.
    config = runtime_config(topo, replace(deployment, own={
        **deployment.own, MLFLOW: _mlflow_env(ctx, database, alb)}))

    def container(name: str, entrypoint: str, extra: dict[str, Any]) -> dict[str, Any]:
        environment = config.of(name)
        return {
            "name": name,
            "image": image_uri,
            "essential": True,
            "command": ["python", "-m", entrypoint],
            "environment": [{"name": k, "value": environment[k]} for k in sorted(environment)],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": logs[name].name, "awslogs-region": ctx.region,
                            "awslogs-stream-prefix": name},
            },
            **extra,
            **({"secrets": refs} if (refs := container_secrets(name, arns.secrets)) else {}),
        }

    def task_definition(name: str, cpu: int, memory: int, body: dict[str, Any],
                        role: aws.iam.Role) -> aws.ecs.TaskDefinition:
        return aws.ecs.TaskDefinition(
            ctx.name(name),
            family=ctx.name(name),
            cpu=str(cpu),
            memory=str(memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=execution_role.arn,
            task_role_arn=role.arn,
            container_definitions=pulumi.Output.from_input([body]).apply(json.dumps),
            tags=ctx.tags,
        )

    task_defs: dict[str, aws.ecs.TaskDefinition] = {}
    for td in topo.task_definitions:
        role = _role(ctx, td.name, arns)
        task_defs[td.name] = task_definition(
            td.name, td.cpu, td.memory, container(td.name, td.entrypoint, {}), role)

    services: dict[str, aws.ecs.Service] = {}
    for svc in topo.services:
        role = _role(ctx, svc.name, arns)
        extra = {"portMappings": [{"containerPort": svc.port, "protocol": "tcp"}]}
        td = task_definition(svc.name, svc.cpu, svc.memory, container(svc.name, svc.entrypoint,
                                                                     extra), role)
        registry = aws.servicediscovery.Service(
            ctx.name(f"{svc.name}-discovery"),
            name=svc.name,
            namespace_id=namespace.id,
            dns_config={"namespace_id": namespace.id, "routing_policy": "MULTIVALUE",
                        "dns_records": [{"type": "A", "ttl": 10}]},
            tags=ctx.tags,
        )
        services[svc.name] = _service(ctx, svc, cluster, td, net, registry,
                                      target_groups.get(svc.name), listener)
    return Compute(cluster=cluster, listener=listener, load_balancer=alb, services=services,
                   task_definitions=task_defs, repository=repo, target_groups=target_groups)


def _role(ctx: Context, name: str, arns: Arns) -> aws.iam.Role:
    """The task role: the policy the one builder makes from the spec's access."""
    return role_with_document(ctx.name(f"{name}-task-role"), ctx.role_name(name, TASK_ROLE),
                              "ecs-tasks.amazonaws.com", role_policy(ctx.topo, name, arns),
                              ctx.tags, POLICY_NAME)


def _mlflow_env(ctx: Context, database: aws.rds.Instance,
               alb: aws.lb.LoadBalancer) -> dict[str, pulumi.Input[str]]:
    """The backend store is the RDS instance; its login comes in through ECS ``secrets``
    (tradai.topology.ecs_secrets). Served under its route's prefix, answering to its own
    DNS names (mlflow_access.py)."""
    return {"TRADAI_MLFLOW_DB_HOST": database.address,
            "TRADAI_MLFLOW_DB_NAME": database.db_name,
            STATIC_PREFIX_ENV: mlflow_prefix(ctx.topo),
            ALLOWED_HOSTS_ENV: allowed_hosts(ctx, alb.dns_name)}


def _load_balancer(
    ctx: Context, net: Network
) -> tuple[aws.lb.LoadBalancer, aws.lb.Listener, dict[str, aws.lb.TargetGroup]]:
    # Internal: only the API Gateway VPC Link reaches it (its SG admits the link's SG only).
    alb = aws.lb.LoadBalancer(
        ctx.name("alb"),
        name=ctx.name("alb"),
        internal=True,
        load_balancer_type="application",
        security_groups=[net.groups[ALB].id],
        subnets=[s.id for s in net.public_subnets],
        drop_invalid_header_fields=True,
        tags=ctx.tags,
    )
    target_groups = {
        s.name: aws.lb.TargetGroup(
            ctx.name(f"tg-{s.name}"),
            name=ctx.name(f"tg-{s.name}")[:32],
            port=s.port,
            protocol="HTTP",
            target_type="ip",
            vpc_id=net.vpc.id,
            deregistration_delay=lb.DEREGISTRATION_DELAY_SECONDS,
            health_check={"path": mlflow_health_path(ctx.topo) if s.name == MLFLOW
                          else s.health_path, "matcher": lb.HEALTH_CHECK_MATCHER,
                          "interval": lb.HEALTH_CHECK_INTERVAL_SECONDS,
                          "timeout": lb.HEALTH_CHECK_TIMEOUT_SECONDS,
                          "healthy_threshold": lb.HEALTHY_THRESHOLD,
                          "unhealthy_threshold": lb.UNHEALTHY_THRESHOLD},
            tags=ctx.tags,
        )
        for s in ctx.topo.services
        if s.load_balanced
    }
    listener = aws.lb.Listener(
        ctx.name("alb-http"),
        load_balancer_arn=alb.arn,
        port=ALB_PORT,
        protocol="HTTP",
        default_actions=[{"type": "fixed-response", "fixed_response": {
            "content_type": "application/json", "status_code": "404",
            "message_body": '{"detail": "Not Found"}'}}],
        tags=ctx.tags,
    )
    # One rule per service route of the edge spec, in spec order.
    service_routes = [r for r in ctx.topo.edge.routes if r.target == "service"]
    for priority, route in enumerate(service_routes, start=1):
        aws.lb.ListenerRule(
            ctx.name(f"rule-{priority}-{route.service}"),
            listener_arn=listener.arn,
            priority=priority * 10,
            conditions=[{"path_pattern": {"values": [route.path]}}],
            actions=[{"type": "forward", "target_group_arn": target_groups[route.service].arn}],
            tags=ctx.tags,
        )
    return alb, listener, target_groups


def _service(ctx: Context, svc: Service, cluster: aws.ecs.Cluster, td: aws.ecs.TaskDefinition,
             net: Network, registry: aws.servicediscovery.Service,
             target_group: aws.lb.TargetGroup | None,
             listener: aws.lb.Listener) -> aws.ecs.Service:
    name = ctx.name(svc.name)
    service = aws.ecs.Service(
        name,
        name=name,
        cluster=cluster.arn,
        task_definition=td.arn,
        desired_count=svc.min,
        launch_type="FARGATE",
        network_configuration={"subnets": net.private_subnet_ids, "assign_public_ip": False,
                               "security_groups": [net.groups[svc.name].id]},
        load_balancers=(
            [{"target_group_arn": target_group.arn, "container_name": svc.name,
              "container_port": svc.port}] if target_group else None
        ),
        health_check_grace_period_seconds=(lb.HEALTH_CHECK_GRACE_PERIOD_SECONDS
                                           if target_group else None),
        service_registries={"registry_arn": registry.arn},
        deployment_circuit_breaker={"enable": True, "rollback": True},
        propagate_tags="SERVICE",
        tags=ctx.tags,
        # Autoscaling owns the running count after the first deploy.
        opts=pulumi.ResourceOptions(ignore_changes=["desiredCount"], depends_on=[listener]),
    )
    target = aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
        min_capacity=svc.min,
        max_capacity=svc.max,
    )
    aws.appautoscaling.Policy(
        f"{name}-cpu",
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration={
            "predefined_metric_specification": {
                "predefined_metric_type": "ECSServiceAverageCPUUtilization"},
            "target_value": svc.cpu_target,
        },
    )
    return service
