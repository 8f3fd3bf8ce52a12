"""The local roles' policies: the one builder (``tradai.topology.iam_policy``) given the
emulator's ARNs, put on each function's and container's role as the inline policy the Pulumi
program deploys (``tradai-access``), so that the local cloud can judge every call a process
signs with its role's credentials against what AWS would.
"""

from __future__ import annotations

import json

from tradai.topology.ecs_secrets import execution_secrets
from tradai.topology.iam_policy import (
    POLICY_NAME,
    ResourceArns,
    injected_secrets_statements,
    policy_document,
    role_policy,
)
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.rds.part import CONTAINER_SECRETS_KEY

FUNCTION_ROLE, TASK_ROLE, EXECUTION_ROLE = "fn", "task", "ecs-execution"
ALWAYS_INJECTED = ("strategy",)  # its MLflow login, whatever MLflow's store


def injected_containers(ctx: CloudContext) -> list[str]:
    """The containers whose ECS ``secrets`` the bootstrap declares (tradai.topology.
    ecs_secrets): the strategy's MLflow login always, MLflow's database login when the RDS
    part runs PostgreSQL."""
    return [*ALWAYS_INJECTED, *ctx.resources.get(CONTAINER_SECRETS_KEY, ())]


def role_name(ctx: CloudContext, component: str, kind: str) -> str:
    """As the Pulumi program names them (``<logical>-<kind>``)."""
    return ctx.name(f"{component}-{kind}")


def local_arns(ctx: CloudContext) -> ResourceArns:
    """This stack's ARNs, as the emulator reports them, from the bootstrap's earlier steps."""
    r, topo = ctx.resources, ctx.topology
    region, account = ctx.region, ctx.account_id
    ddb = ctx.client("dynamodb")
    cluster = r["cluster"]

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    def role(component: str, kind: str) -> str:
        return f"arn:aws:iam::{account}:role/{role_name(ctx, component, kind)}"

    execution = f"arn:aws:iam::{account}:role/{ctx.name(EXECUTION_ROLE)}"
    nat_group = ctx.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[r["nat_asg"]])["AutoScalingGroups"][0]["AutoScalingGroupARN"]
    return ResourceArns(
        tables={t.name: ddb.describe_table(TableName=r["tables"][t.name])["Table"]["TableArn"]
                for t in topo.tables},
        queues=dict(r["queues"]["arns"]),
        buckets={n: f"arn:aws:s3:::{name}" for n, name in r["buckets"].items()},
        topics=dict(r["topics"]),
        secrets=dict(r["secrets"]),
        state_machines=dict(r["state_machines"]),
        lambdas=dict(r["lambdas"]),
        log_groups={f.name: arn("logs", f"log-group:/aws/lambda/{ctx.name(f.name)}")
                    for f in topo.lambdas},
        # A task definition's ARN without its revision: every revision of the family.
        task_families={n: td.rpartition(":")[0] + ":*"
                       for n, td in r["task_definitions"].items()},
        cluster=r["cluster_arn"],
        cluster_tasks=arn("ecs", f"task/{cluster}/*"),
        cluster_services=arn("ecs", f"service/{cluster}/*"),
        task_roles=(*(role(t.name, TASK_ROLE) for t in topo.task_definitions), execution),
        session_services=arn("ecs", f"service/{cluster}/{ctx.name('session-')}*"),
        session_roles=(role("strategy", TASK_ROLE), execution),
        nat_group=nat_group,
        route_tables=tuple(arn("ec2", f"route-table/{rt}")
                           for name, rt in r["route_tables"].items() if "private-rt" in name),
        instances=arn("ec2", "instance/*"),
        nat_name=r["nat_asg"],
    )


def component_roles(ctx: CloudContext) -> dict[str, str]:
    """Component -> the name of the role it runs as: every function the bootstrap created
    (those with handler code), every service and task definition."""
    iam = ctx.client("iam")
    have = {ro["RoleName"] for page in iam.get_paginator("list_roles").paginate()
            for ro in page["Roles"]}
    topo = ctx.topology
    roles = {f.name: role_name(ctx, f.name, FUNCTION_ROLE) for f in topo.lambdas}
    roles |= {c.name: role_name(ctx, c.name, TASK_ROLE)
              for c in (*topo.services, *topo.task_definitions)}
    return {c: name for c, name in roles.items() if name in have}


def attach_policies(ctx: CloudContext) -> dict[str, str]:
    """Put each component's policy on its role; returns component -> role name. The ECS
    execution role gets what the containers' ECS ``secrets`` need (locally nothing else: no
    image pull, no awslogs driver)."""
    iam = ctx.client("iam")
    arns = local_arns(ctx)
    roles = component_roles(ctx)
    for component, name in roles.items():
        document = json.dumps(role_policy(ctx.topology, component, arns), sort_keys=True)
        iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=document)
    injected = execution_secrets(injected_containers(ctx))
    if injected:
        document = json.dumps(policy_document(injected_secrets_statements(injected, arns)),
                              sort_keys=True)
        iam.put_role_policy(RoleName=ctx.name(EXECUTION_ROLE), PolicyName=POLICY_NAME,
                            PolicyDocument=document)
    return roles
