"""Collect the ARNs that IAM statements reference, by logical name."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from tradai_infra.context import Context
from tradai_infra.nat import nat_group_name
from tradai_infra.network import Network
from tradai_infra.permissions import Arns
from tradai_infra.storage import Storage

TASK_ROLE = "task"


def build_arns(
    ctx: Context,
    net: Network,
    storage: Storage,
    queues: dict[str, aws.sqs.Queue],
    topics: dict[str, aws.sns.Topic],
) -> Arns:
    topo = ctx.topo
    cluster = ctx.cluster_name
    return Arns(
        tables={n: t.arn for n, t in storage.tables.items()},
        queues={n: q.arn for n, q in queues.items()},
        buckets={n: b.arn for n, b in storage.buckets.items()},
        topics={n: t.arn for n, t in topics.items()},
        secrets={n: s.arn for n, s in storage.secrets.items()},
        state_machines={m.name: ctx.state_machine_arn(m.name) for m in topo.state_machines},
        lambdas={f.name: ctx.lambda_arn(f.name) for f in topo.lambdas},
        task_families={t.name: ctx.task_family_arn(t.name) for t in topo.task_definitions},
        cluster=ctx.arn("ecs", f"cluster/{cluster}"),
        cluster_tasks=ctx.arn("ecs", f"task/{cluster}/*"),
        cluster_services=ctx.arn("ecs", f"service/{cluster}/*"),
        task_roles=(
            *(ctx.role_arn(t.name, TASK_ROLE) for t in topo.task_definitions),
            ctx.role_arn("ecs", "execution"),
        ),
        session_services=ctx.arn("ecs", f"service/{cluster}/{ctx.name('session-')}*"),
        session_roles=(ctx.role_arn("strategy", TASK_ROLE), ctx.role_arn("ecs", "execution")),
        nat_group=ctx.arn(
            "autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{nat_group_name(ctx)}"
        ),
        route_tables=tuple(
            pulumi.Output.all(rt.id, ctx.account_id).apply(
                lambda v: f"arn:aws:ec2:{ctx.region}:{v[1]}:route-table/{v[0]}"
            )
            for rt in net.private_route_tables
        ),
        instances=ctx.arn("ec2", "instance/*"),
        nat_name=nat_group_name(ctx),
    )
