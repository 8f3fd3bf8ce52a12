"""The 18 Lambda functions: the same ``tradai`` handler code the local cloud runs, with the
spec's memory, timeout, VPC placement and trigger, and one least-privilege role each."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.topology.model import LambdaFunction
from tradai_infra.context import Context
from tradai_infra.iam import Statement, role_with_policy
from tradai_infra.lambda_package import ARCHITECTURE, RUNTIME, build_artifacts
from tradai_infra.mlflow_access import SERVICE as MLFLOW
from tradai_infra.mlflow_access import client_functions, mlflow_url, url_env
from tradai_infra.network import LAMBDAS, MLFLOW_CLIENTS, Network
from tradai_infra.permissions import LAMBDA_ACCESS, Arns, statements
from tradai_infra.storage import bucket_env

DRIFT_DETECTOR = "pulumi-drift-detector"
LOG_RETENTION_DAYS = 30
# Trigger types this module can wire; validate.py rejects anything else up front.
MAPPED_TRIGGERS = ("sqs", "schedule", "stepfunctions", "lifecycle-hook", "backend-api")
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
)
SQS_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
               "sqs:ChangeMessageVisibility")


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
    skip: set[str] | None = None,
) -> dict[str, aws.lambda_.Function]:
    """Every function of the spec except ``skip`` (no handler code yet: validate.unbuilt)."""
    archive = function_code(ctx)
    functions: dict[str, aws.lambda_.Function] = {}
    for spec in ctx.topo.lambdas:
        if spec.name in (skip or set()):
            continue
        functions[spec.name] = _function(ctx, spec, net, arns, archive)
        _trigger(ctx, spec, functions[spec.name], queues)
    return functions


def _environment(ctx: Context, spec: LambdaFunction, net: Network,
                 arns: Arns) -> dict[str, pulumi.Input[str]]:
    env: dict[str, pulumi.Input[str]] = {
        "TRADAI_ENV": ctx.env,
        "TRADAI_PROJECT": ctx.topo.project,
        "TRADAI_CLUSTER": ctx.cluster_name,
        "TRADAI_DATA_COLLECTION_URL": (
            f"http://data-collection.{ctx.topo.project}-{ctx.env}.local:"
            f"{ctx.topo.service('data-collection').port}"
        ),
        # update-nat-routes repoints these when the NAT instance is replaced (one per AZ).
        "TRADAI_PRIVATE_ROUTE_TABLES": pulumi.Output.all(
            *[rt.id for rt in net.private_route_tables]
        ).apply(lambda ids: json.dumps(list(ids))),
    }
    # The topics a function may publish to, e.g. TRADAI_ALERTS_TOPIC_ARN.
    for topic in LAMBDA_ACCESS[spec.name].topics:
        env[f"TRADAI_{topic.upper().replace('-', '_')}_TOPIC_ARN"] = arns.topics[topic]
    if spec.name in client_functions(ctx.topo):
        env |= url_env(ctx)  # under its static prefix (mlflow_access.py)
    return (env | bucket_env(ctx, LAMBDA_ACCESS[spec.name]) | _drift_env(ctx, spec)
            | _health_env(ctx, spec))


HEALTH_CHECK = "health-check"


def _health_env(ctx: Context, spec: LambdaFunction) -> dict[str, str]:
    """health-check probes each service through Cloud Map (compute.py's namespace):
    ``TRADAI_<SERVICE>_URL``; the backend's also as ``TRADAI_BACKEND_URL``, the name the task
    environments use for it."""
    if spec.name != HEALTH_CHECK:
        return {}
    urls = {f"TRADAI_{s.name.replace('-', '_').upper()}_URL":
            mlflow_url(ctx) if s.name == MLFLOW  # under its static prefix
            else f"http://{s.name}.{ctx.topo.project}-{ctx.env}.local:{s.port}"
            for s in ctx.topo.services}
    urls["TRADAI_BACKEND_URL"] = urls["TRADAI_BACKEND_API_URL"]
    return urls


def _drift_env(ctx: Context, spec: LambdaFunction) -> dict[str, str]:
    # The drift detector previews this very stack; the zip package carries neither the Pulumi
    # CLI nor this project, so in AWS it reports "unavailable" (see infra/README.md).
    if spec.name != DRIFT_DETECTOR:
        return {}
    return {"TRADAI_PULUMI_STACK": ctx.env, "TRADAI_PULUMI_WORK_DIR": "/var/task/infra"}


def _function(ctx: Context, spec: LambdaFunction, net: Network, arns: Arns,
              archive: FunctionCode) -> aws.lambda_.Function:
    name = ctx.name(spec.name)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs", name=f"/aws/lambda/{name}", retention_in_days=LOG_RETENTION_DAYS,
        tags=ctx.tags,
    )
    stmts = [
        Statement(("logs:CreateLogStream", "logs:PutLogEvents"),
                  (log_group.arn.apply(lambda a: f"{a}:*"),)),
        *statements(LAMBDA_ACCESS[spec.name], arns),
    ]
    if spec.trigger.type == "sqs":
        stmts.append(Statement(SQS_CONSUME, (arns.queues[spec.trigger.queue],)))
    if spec.in_vpc:
        # Lambda's ENI management has no resource-level permissions (same as the AWS managed
        # AWSLambdaVPCAccessExecutionRole policy).
        stmts.append(Statement(VPC_ENI_ACTIONS, ("*",)))
    role = role_with_policy(f"{name}-role", ctx.role_name(spec.name, "fn"),
                            "lambda.amazonaws.com", stmts, ctx.tags)
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
        environment={"variables": _environment(ctx, spec, net, arns)},
        vpc_config=(
            {"subnet_ids": net.private_subnet_ids, "security_group_ids": [
                net.groups[LAMBDAS].id,
                *([net.groups[MLFLOW_CLIENTS].id] if spec.name in client_functions(ctx.topo)
                  else [])]}
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
    # backend-api: invoked by the backend service's task role (permissions.SERVICE_ACCESS).
