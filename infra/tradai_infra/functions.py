"""The 18 Lambda functions: the same ``tradai`` handler code the local cloud runs, with the
spec's memory, timeout, VPC placement and trigger, and one least-privilege role each."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.topology.flows import PROBES, mlflow_client_functions
from tradai.topology.iam_policy import POLICY_NAME
from tradai.topology.model import LambdaFunction
from tradai.topology.runtime_config import RuntimeConfig
from tradai_infra.context import Context
from tradai_infra.iam import role_with_document
from tradai_infra.lambda_package import ARCHITECTURE, RUNTIME, build_artifacts
from tradai_infra.network import HEALTH_PROBES, LAMBDAS, MLFLOW_CLIENTS, Network
from tradai_infra.permissions import Arns, role_policy

LOG_RETENTION_DAYS = 30
# Trigger types this module can wire; validate.py rejects anything else up front.
MAPPED_TRIGGERS = ("sqs", "schedule", "stepfunctions", "lifecycle-hook", "backend-api")


@dataclass(frozen=True)
class FunctionCode:
    """What every function runs: the code zip and the layers, the dependency layer first."""

    code: pulumi.FileArchive
    layers: list[pulumi.Input[str]]


def function_code(ctx: Context) -> FunctionCode:
    """The ``tradai`` package (``tradai/`` at the zip's root, so ``tradai.lambdas.x.handler``
    resolves) and one dependency layer, both from lambda_package; the program built and
    checked them before declaring anything, so this finds them built."""
    artifacts = build_artifacts()
    layer = aws.lambda_.LayerVersion(
        ctx.name("lambda-dependencies"),
        layer_name=ctx.name("lambda-dependencies"),
        code=pulumi.FileArchive(str(artifacts.layer.path)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description=f"tradai handler dependencies ({artifacts.layer.path.name})",
    )
    return FunctionCode(code=pulumi.FileArchive(str(artifacts.code.path)),
                        layers=[layer.arn, *ctx.settings.lambda_layers])


def build_functions(
    ctx: Context,
    net: Network,
    arns: Arns,
    queues: dict[str, aws.sqs.Queue],
    config: RuntimeConfig[pulumi.Input[str]],
    skip: set[str] | None = None,
) -> dict[str, aws.lambda_.Function]:
    """Every function of the spec except ``skip`` (no handler code yet: validate.unbuilt),
    each with its environment from the one runtime configuration (runtime_env.py)."""
    archive = function_code(ctx)
    functions: dict[str, aws.lambda_.Function] = {}
    for spec in ctx.topo.lambdas:
        if spec.name in (skip or set()):
            continue
        functions[spec.name] = _function(ctx, spec, net, arns, archive,
                                         config.functions[spec.name])
        _trigger(ctx, spec, functions[spec.name], queues)
    return functions


def _function(ctx: Context, spec: LambdaFunction, net: Network, arns: Arns,
              archive: FunctionCode,
              environment: dict[str, pulumi.Input[str]]) -> aws.lambda_.Function:
    name = ctx.name(spec.name)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs", name=f"/aws/lambda/{name}", retention_in_days=LOG_RETENTION_DAYS,
        tags=ctx.tags,
    )
    # The one builder's policy (tradai.topology.iam_policy): the spec's access, and what a
    # function needs as one (its log group, its trigger queue, its ENIs in the VPC).
    policy = role_policy(ctx.topo, spec.name, arns.with_log_group(spec.name, log_group.arn))
    role = role_with_document(f"{name}-role", ctx.role_name(spec.name, "fn"),
                              "lambda.amazonaws.com", policy, ctx.tags, POLICY_NAME)
    return aws.lambda_.Function(
        name,
        name=name,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        handler=spec.handler,
        code=archive.code,
        memory_size=spec.memory,
        timeout=spec.timeout,
        role=role.arn,
        layers=archive.layers,
        environment={"variables": environment},
        vpc_config=(
            {"subnet_ids": net.private_subnet_ids, "security_group_ids": [
                net.groups[LAMBDAS].id,
                *([net.groups[MLFLOW_CLIENTS].id] if spec.name in mlflow_client_functions(ctx.topo)
                  else []),
                *([net.groups[HEALTH_PROBES].id] if spec.name in PROBES else [])]}
            if spec.in_vpc else None
        ),
        logging_config={"log_format": "JSON", "log_group": log_group.name},
        tags={**ctx.tags, "trigger": spec.trigger.type},
        opts=pulumi.ResourceOptions(depends_on=[log_group]),
    )


def _trigger(ctx: Context, spec: LambdaFunction, fn: aws.lambda_.Function,
             queues: dict[str, aws.sqs.Queue]) -> None:
    name = ctx.name(spec.name)
    trig = spec.trigger
    if trig.type == "sqs":
        aws.lambda_.EventSourceMapping(
            f"{name}-sqs",
            event_source_arn=queues[trig.queue].arn,
            function_name=fn.arn,
            batch_size=trig.batch_size,
            # Failed records go back to the queue (and on to the DLQ), not the whole batch.
            function_response_types=["ReportBatchItemFailures"],
        )
    elif trig.type == "schedule":
        schedule = ctx.topo.schedule(trig.schedule)
        rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            name=ctx.name(f"{schedule.name}-schedule"),
            schedule_expression=schedule.expression,
            tags=ctx.tags,
        )
        aws.cloudwatch.EventTarget(f"{name}-schedule-target", rule=rule.name, arn=fn.arn)
        aws.lambda_.Permission(
            f"{name}-schedule-invoke", action="lambda:InvokeFunction", function=fn.name,
            principal="events.amazonaws.com", source_arn=rule.arn,
        )
    elif trig.type == "stepfunctions":
        for machine in trig.state_machines:
            aws.lambda_.Permission(
                f"{name}-from-{machine}", action="lambda:InvokeFunction", function=fn.name,
                principal="states.amazonaws.com", source_arn=ctx.state_machine_arn(machine),
            )
    # lifecycle-hook: wired in nat.py with the Auto Scaling group it belongs to.
    # backend-api: invoked by the backend service's task role (its access: invoke_lambdas).
