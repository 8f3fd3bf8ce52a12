"""Both Step Functions state machines, from the very ASL files the local cloud executes."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from tradai.workflows.render import load_asl, placeholders, render_asl
from tradai_infra.compute import Compute
from tradai_infra.context import Context
from tradai_infra.iam import Statement, role_with_policy
from tradai_infra.network import TASKS, Network
from tradai_infra.permissions import Arns

# The managed rule Step Functions creates for ecs:runTask.sync to learn that a task stopped.
SYNC_RULE = "rule/StepFunctionsGetEventsForECSTaskRule"


def asl_values(ctx: Context, compute: Compute, net: Network,
               functions: dict[str, aws.lambda_.Function]) -> dict[str, pulumi.Input[Any]]:
    """Every placeholder value render_asl may need, keyed as in the ASL files."""
    values: dict[str, pulumi.Input[Any]] = {
        f"Lambda:{name}": fn.arn for name, fn in functions.items()
    }
    values |= {f"TaskDefinition:{n}": td.arn for n, td in compute.task_definitions.items()}
    values["Cluster"] = compute.cluster.arn
    values["PrivateSubnets"] = pulumi.Output.all(*net.private_subnet_ids)
    values["StrategySecurityGroups"] = pulumi.Output.all(net.groups[TASKS].id)
    return values


def build_state_machines(ctx: Context, compute: Compute, net: Network, arns: Arns,
                         functions: dict[str, aws.lambda_.Function],
                         skip: set[str] | None = None) -> dict[str, aws.sfn.StateMachine]:
    """Every state machine of the spec except ``skip`` (one invokes a function not deployed)."""
    values = asl_values(ctx, compute, net, functions)
    machines: dict[str, aws.sfn.StateMachine] = {}
    for spec in ctx.topo.state_machines:
        if spec.name in (skip or set()):
            continue
        asl = load_asl(spec.asl)
        needed = sorted(placeholders(asl))  # validate.py proved each has a value
        invoked = [k.split(":", 1)[1] for k in needed if k.startswith("Lambda:")]
        tasks = [k.split(":", 1)[1] for k in needed if k.startswith("TaskDefinition:")]
        stmts = [Statement(("lambda:InvokeFunction",),
                           tuple(functions[n].arn for n in invoked))]
        if tasks:
            stmts += [
                Statement(("ecs:RunTask",), tuple(arns.task_families[t] for t in tasks),
                          {"ArnEquals": {"ecs:cluster": arns.cluster}}),
                Statement(("ecs:StopTask", "ecs:DescribeTasks"), (arns.cluster_tasks,)),
                Statement(("iam:PassRole",), arns.task_roles,
                          {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
                Statement(("events:PutTargets", "events:PutRule", "events:DescribeRule"),
                          (ctx.arn("events", SYNC_RULE),)),
            ]
        role = role_with_policy(ctx.name(f"{spec.name}-role"), ctx.role_name(spec.name, "sfn"),
                                "states.amazonaws.com", stmts, ctx.tags)
        definition = pulumi.Output.all(*[values[k] for k in needed]).apply(
            lambda resolved, keys=needed, doc=asl: render_asl(doc, dict(zip(keys, resolved,
                                                                             strict=True)))
        )
        name = ctx.name(spec.name)
        machines[spec.name] = aws.sfn.StateMachine(
            name,
            name=name,
            type="STANDARD",
            role_arn=role.arn,
            definition=definition,
            tags=ctx.tags,
        )
    return machines
