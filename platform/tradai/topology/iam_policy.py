"""One builder of every function's, service's and task's IAM policy, from the spec's access.

Given a component's ``access`` (``tradai.topology.model.Access``) and the ARNs of this
deployment's resources (plain strings, :class:`ResourceArns`), it returns the policy document.
The Pulumi program calls it once the ARNs are known (inside ``Output.apply``) and attaches the
document to the role; the local cloud calls it with the emulator's ARNs and puts the same
document on the same role (``put_role_policy``, :data:`POLICY_NAME`), where it is enforced. The
two sides differ only in ARNs.

What the spec does not declare is derived here: an SQS consumer's grants on its trigger queue,
a function's own log group (the actions of the AWS managed AWSLambdaBasicExecutionRole, minus
CreateLogGroup: the group exists before the function), a function in the VPC its ENI calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tradai.topology.access import access_of
from tradai.topology.model import Access, Topology

POLICY_NAME = "tradai-access"  # the inline policy's name on every role, on both sides
VERSION = "2012-10-17"
EXCHANGE_SECRET = "exchange-credentials"  # trading sessions: live mode reads it
ECS_TASKS = "ecs-tasks.amazonaws.com"

TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan")
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
               "dynamodb:ConditionCheckItem")
SLOTS_TAKE = ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
              "dynamodb:DeleteItem")
SLOTS_FREE = ("dynamodb:Query", "dynamodb:DeleteItem")
ITEMS_UPDATE = ("dynamodb:GetItem", "dynamodb:UpdateItem")
LOG_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
SQS_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
               "sqs:ChangeMessageVisibility")
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
)


@dataclass(frozen=True)
class Statement:
    """One Allow statement."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceArns:
    """This deployment's ARNs by logical name: what a policy names."""

    tables: Mapping[str, str]
    queues: Mapping[str, str]
    buckets: Mapping[str, str]
    topics: Mapping[str, str]
    secrets: Mapping[str, str]  # as Secrets Manager gives them (with the random suffix)
    state_machines: Mapping[str, str]
    lambdas: Mapping[str, str]
    log_groups: Mapping[str, str]  # a function's log group, without the trailing ":*"
    task_families: Mapping[str, str]  # arn:...:task-definition/<family>:*
    cluster: str
    cluster_tasks: str  # arn:...:task/<cluster>/*
    cluster_services: str  # arn:...:service/<cluster>/*
    task_roles: tuple[str, ...]  # the roles RunTask passes: task roles and the execution role
    session_services: str  # arn:...:service/<cluster>/<project>-<env>-session-*
    session_roles: tuple[str, ...]  # the strategy task's role and the execution role
    nat_group: str
    route_tables: tuple[str, ...]  # the private route tables
    instances: str  # arn:...:instance/*
    nat_name: str  # the NAT instance's Name tag


def _executions(machine_arn: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:") + ":*"


def access_statements(access: Access, arns: ResourceArns) -> list[Statement]:
    """The statements one access entry grants (no derived grants)."""
    out: list[Statement] = []

    def add(actions: tuple[str, ...], resources: Sequence[str],
            cond: Mapping[str, Any] | None = None) -> None:
        if resources:
            out.append(Statement(actions, tuple(resources), cond or {}))

    def tables(names: tuple[str, ...]) -> list[str]:
        return [r for n in names for r in (arns.tables[n], f"{arns.tables[n]}/index/*")]

    def objects(entries: tuple[str, ...]) -> list[str]:
        return [f"{arns.buckets[e.partition('/')[0]]}/{e.partition('/')[2]}*" for e in entries]

    add(TABLE_READ, tables(access.tables_read))
    add(TABLE_WRITE, tables(access.tables_write))
    add(SLOTS_TAKE, [arns.tables[n] for n in access.slots_take])
    add(SLOTS_FREE, [arns.tables[n] for n in access.slots_free if n not in access.slots_take])
    add(ITEMS_UPDATE, [arns.tables[n] for n in access.items_update])
    add(("sqs:SendMessage", "sqs:GetQueueUrl"), [arns.queues[n] for n in access.queues_send])
    buckets_r = [arns.buckets[n] for n in access.buckets_read]
    buckets_w = [arns.buckets[n] for n in access.buckets_write]
    prefixed = [arns.buckets[e.partition("/")[0]]
                for e in (*access.objects_read, *access.objects_write)]
    # ListBucket also makes a missing key a 404 rather than a 403 (HeadObject, GetObject).
    add(("s3:ListBucket",), list(dict.fromkeys([*buckets_r, *buckets_w, *prefixed])))
    add(("s3:GetObject",), [*(f"{b}/*" for b in buckets_r), *objects(access.objects_read)])
    add(("s3:PutObject", "s3:DeleteObject"), [f"{b}/*" for b in buckets_w])
    add(("s3:PutObject",), objects(access.objects_write))
    add(("sns:Publish",), [arns.topics[n] for n in access.topics])
    add(("secretsmanager:GetSecretValue",), [arns.secrets[n] for n in access.secrets])
    # No ListExecutions: the backtest limit is a slot lease (tradai.workflows.slots).
    add(("states:StartExecution",), [arns.state_machines[n] for n in access.start_workflows])
    add(("states:DescribeExecution",),
        [_executions(arns.state_machines[n]) for n in access.watch_workflows])
    add(("states:StopExecution",),
        [_executions(arns.state_machines[n]) for n in access.stop_workflows])
    add(("lambda:InvokeFunction",), [arns.lambdas[n] for n in access.invoke_lambdas])
    in_cluster = {"ArnEquals": {"ecs:cluster": arns.cluster}}
    if access.run_tasks:
        add(("ecs:RunTask",), [arns.task_families[n] for n in access.run_tasks], in_cluster)
        add(("iam:PassRole",), arns.task_roles,
            {"StringEquals": {"iam:PassedToService": ECS_TASKS}})
    if access.manage_tasks or access.run_tasks:
        add(("ecs:DescribeTasks", "ecs:StopTask"), [arns.cluster_tasks])
        # ListTasks has no task-level resource; the condition pins it to our cluster.
        add(("ecs:ListTasks",), ["*"], in_cluster)
    elif access.stop_tasks:
        add(("ecs:StopTask", "ecs:DescribeTasks"), [arns.cluster_tasks], in_cluster)
        add(("ecs:ListTasks",), ["*"], in_cluster)
    if access.describe_services:
        add(("ecs:DescribeServices",), [arns.cluster_services])
    if access.metrics:
        # PutMetricData has no resource-level permissions; the namespace condition scopes it
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
        # iam-cw-condition-keys-namespace.html).
        add(("cloudwatch:PutMetricData",), ["*"],
            {"StringEquals": {"cloudwatch:namespace": list(access.metrics)}})
    if access.trading_sessions:
        out.extend(session_statements(arns))
    if access.nat_routes:
        add(("ec2:ReplaceRoute", "ec2:CreateRoute"), arns.route_tables)
        add(("ec2:ModifyInstanceAttribute",), [arns.instances],
            {"StringEquals": {"aws:ResourceTag/Name": arns.nat_name}})
        add(("autoscaling:CompleteLifecycleAction",), [arns.nat_group])
        # Describe calls support no resource-level permissions in EC2.
        add(("ec2:DescribeInstances", "ec2:DescribeRouteTables"), ["*"])
    return out


def session_statements(arns: ResourceArns) -> list[Statement]:
    """What starting and stopping trading sessions needs (tradai.trading.deployment).

    Services are scoped to the session name prefix in the cluster. The task-definition calls
    accept no resource-level permissions (Resource "*" in the Service Authorization Reference,
    https://docs.aws.amazon.com/service-authorization/latest/reference/
    list_amazonelasticcontainerservice.html); what a registered revision may do is bounded by
    the roles it can be given, which PassRole limits to the strategy task's two, and only to
    ECS tasks (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
    task-iam-roles.html)."""
    cluster = {"ArnEquals": {"ecs:cluster": arns.cluster}}
    return [
        Statement(("ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
                   "ecs:DescribeServices"), (arns.session_services,), cluster),
        Statement(("ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition",
                   "ecs:DescribeTaskDefinition"), ("*",)),
        Statement(("iam:PassRole",), tuple(arns.session_roles),
                  {"StringEquals": {"iam:PassedToService": ECS_TASKS}}),
        Statement(("secretsmanager:DescribeSecret",), (arns.secrets[EXCHANGE_SECRET],)),
    ]


def role_statements(topo: Topology, component: str, arns: ResourceArns) -> list[Statement]:
    """Everything a component's role holds: its access, and for a function what it needs as
    a function (its log group, its trigger queue, its ENIs in the VPC)."""
    out: list[Statement] = []
    fn = next((f for f in topo.lambdas if f.name == component), None)
    if fn is not None:
        out.append(Statement(LOG_WRITE, (f"{arns.log_groups[component]}:*",)))
    out += access_statements(access_of(topo, component), arns)
    if fn is not None and fn.trigger.type == "sqs":
        out.append(Statement(SQS_CONSUME, (arns.queues[fn.trigger.queue],)))
    if fn is not None and fn.in_vpc:
        # Lambda's ENI management has no resource-level permissions (same as the AWS managed
        # AWSLambdaVPCAccessExecutionRole policy).
        out.append(Statement(VPC_ENI_ACTIONS, ("*",)))
    return out


def injected_secrets_statements(secrets: Sequence[str], arns: ResourceArns) -> list[Statement]:
    """The ECS execution role's read of the secrets containers get through ECS ``secrets``
    (``tradai.topology.ecs_secrets``); ECS reads them with this role before the start."""
    if not secrets:
        return []
    return [Statement(("secretsmanager:GetSecretValue",),
                      tuple(arns.secrets[n] for n in secrets))]


def policy_document(statements: Sequence[Statement]) -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": sorted(set(s.actions)),
                "Resource": list(s.resources),
                **({"Condition": dict(s.conditions)} if s.conditions else {}),
            }
            for s in statements
        ],
    }


def role_policy(topo: Topology, component: str, arns: ResourceArns) -> dict[str, Any]:
    """The policy document of one function's, service's or task's role."""
    return policy_document(role_statements(topo, component, arns))
