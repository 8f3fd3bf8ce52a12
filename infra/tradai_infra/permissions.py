"""Who may touch what: the least-privilege access of every Lambda, service and task.

The topology spec names resources and triggers but not which resources a handler reads or
writes, so that knowledge lives here, keyed by the spec's logical names. ``check_access``
proves the table covers every spec entry and names only resources the spec declares.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pulumi

from tradai.topology import Topology
from tradai_infra.errors import SpecMappingError
from tradai_infra.iam import Statement


@dataclass(frozen=True)
class Access:
    tables_read: tuple[str, ...] = ()
    tables_write: tuple[str, ...] = ()
    queues_send: tuple[str, ...] = ()
    buckets_read: tuple[str, ...] = ()
    buckets_write: tuple[str, ...] = ()
    # Object-level grants under one prefix ("bucket/prefix/"): GetObject, or PutObject without
    # delete (buckets are versioned, so an overwrite keeps the earlier version).
    objects_read: tuple[str, ...] = ()
    objects_write: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    start_workflows: tuple[str, ...] = ()
    watch_workflows: tuple[str, ...] = ()  # describe executions (orphans, replays)
    # Slot tables (tradai.workflows.slots): read the pool (Query on the table, no index, no
    # Scan) and take a slot (conditional PutItem), renew it (UpdateItem), reclaim (DeleteItem)
    slots_take: tuple[str, ...] = ()
    slots_free: tuple[str, ...] = ()  # read the pool and free a slot (DeleteItem) only
    # Read one item by key and update it in place (GetItem, UpdateItem; the table only, no
    # index, no Put or Delete): the strategy task's job ticket.
    items_update: tuple[str, ...] = ()
    stop_workflows: tuple[str, ...] = ()  # StopExecution on their executions (cancel)
    invoke_lambdas: tuple[str, ...] = ()
    run_tasks: tuple[str, ...] = ()  # task definitions it may RunTask (and stop/describe)
    manage_tasks: bool = False  # list, describe and stop tasks in the cluster
    # Cancelling a backtest: find its strategy task (list, describe) and stop it, in the
    # cluster only (the ecs:cluster condition on each).
    stop_tasks: bool = False
    describe_services: bool = False
    nat_routes: bool = False  # repoint private route tables at a new NAT instance
    metrics: tuple[str, ...] = ()  # CloudWatch namespaces it may PutMetricData into
    # Trading sessions (tradai.trading): a task definition revision and a one-task service
    # per session, created and deleted at run time; live mode reads the exchange keys.
    trading_sessions: bool = False


MLFLOW_AUTH = ("mlflow-basic-auth",)
MLFLOW_USERS = "mlflow-users"  # read by the MLflow service alone (it creates those users)
MLFLOW_RUNNER = "mlflow-runner"  # the strategy tasks' login (not an admin): see the spec
# Namespaces the platform's own metrics go to (tradai.trading.monitor, tradai.health).
TRADING_METRICS, HEALTH_METRICS = "TradAI/Trading", "TradAI/Health"
METRIC_NAMESPACES = (TRADING_METRICS, HEALTH_METRICS)
EXCHANGE_SECRET = "exchange-credentials"


LAMBDA_ACCESS: dict[str, Access] = {
    # SQS consumers also get receive/delete on their trigger queue (derived from the spec).
    "backtest-consumer": Access(
        tables_read=("idempotency", "workflow-state"),
        tables_write=("idempotency", "workflow-state"),
        start_workflows=("backtest-workflow",),
        # A replayed job that could not be started is reopened only if it has no execution.
        watch_workflows=("backtest-workflow",),
        # A job still waiting for capacity on its last receive is re-sent, not dead-lettered.
        queues_send=("backtest-queue.fifo",),
        # The strategy-task limit: a slot per started job; reclaims dead holders' slots.
        slots_take=("backtest-slots",),
        # A job cancelled while it was being started: its fresh execution is stopped.
        stop_workflows=("backtest-workflow",),
    ),
    "sqs-consumer": Access(
        tables_read=("idempotency", "retraining-state"),
        tables_write=("idempotency", "retraining-state"),
        start_workflows=("retraining-workflow",),
    ),
    "orphan-scanner": Access(
        tables_read=("workflow-state",), tables_write=("workflow-state",), manage_tasks=True,
        topics=("alerts",), watch_workflows=("backtest-workflow",),
        slots_free=("backtest-slots",),  # slots of the jobs it fails, and of dead holders
    ),
    # Probes each service through service discovery; the last state per service (alert once
    # per failure and once per recovery) is kept in service-health.
    "health-check": Access(
        tables_read=("service-health",), tables_write=("service-health",), topics=("alerts",),
        metrics=(HEALTH_METRICS,),
    ),
    # Scans the sessions, marks STALE / recovered (UpdateItem), one alert per incident.
    "trading-heartbeat-check": Access(
        tables_read=("trading-heartbeats",), tables_write=("trading-heartbeats",),
        topics=("alerts",), metrics=(TRADING_METRICS,),
    ),
    "drift-monitor": Access(
        tables_read=("drift-state",), tables_write=("drift-state",), buckets_read=("arcticdb",),
        secrets=MLFLOW_AUTH, topics=("alerts",),
    ),
    "retraining-scheduler": Access(
        tables_read=("drift-state", "retraining-state"), tables_write=("retraining-state",),
        queues_send=("retraining-queue.fifo",),
    ),
    "pulumi-drift-detector": Access(topics=("alerts",)),
    "validate-strategy": Access(buckets_read=("configs",), secrets=MLFLOW_AUTH),
    "data-collection-proxy": Access(),  # HTTP to the data-collection service only
    "update-status": Access(
        tables_read=("workflow-state", "retraining-state"),
        tables_write=("workflow-state", "retraining-state"),
        slots_free=("backtest-slots",),  # COMPLETED / FAILED: the job's slot is free
    ),
    "cleanup-resources": Access(
        tables_read=("workflow-state",), tables_write=("workflow-state",), manage_tasks=True,
    ),
    "notify-completion": Access(tables_read=("workflow-state",), topics=("notifications",),
                                secrets=("notification-webhook",)),
    "check-retraining-needed": Access(tables_read=("drift-state", "retraining-state")),
    "compare-models": Access(secrets=MLFLOW_AUTH),
    "promote-model": Access(secrets=MLFLOW_AUTH),
    "model-rollback": Access(secrets=MLFLOW_AUTH),
    "update-nat-routes": Access(nat_routes=True),
}

SERVICE_ACCESS: dict[str, Access] = {
    "backend-api": Access(
        # registry-audit: promotion and rollback record who moved which alias, and list it.
        tables_read=("workflow-state", "trading-heartbeats", "drift-state", "registry-audit"),
        tables_write=("workflow-state", "trading-heartbeats", "registry-audit"),
        queues_send=("backtest-queue.fifo",),
        buckets_read=("results", "configs"),
        secrets=(*MLFLOW_AUTH, EXCHANGE_SECRET),
        invoke_lambdas=("model-rollback",),
        trading_sessions=True,
        # Cancelling a running backtest (tradai.backtests.cancel): its execution and its task.
        stop_workflows=("backtest-workflow",), stop_tasks=True,
    ),
    "data-collection": Access(buckets_read=("arcticdb",), buckets_write=("arcticdb",)),
    "strategy-service": Access(
        buckets_read=("configs",), buckets_write=("configs",), secrets=MLFLOW_AUTH,
        run_tasks=("strategy", "strategy-service-task"), manage_tasks=True,
    ),
    # The admin login of MLflow's basic auth, and the other users it creates at start.
    "mlflow": Access(buckets_read=("mlflow-artifacts",), buckets_write=("mlflow-artifacts",),
                     secrets=(*MLFLOW_AUTH, MLFLOW_USERS, MLFLOW_RUNNER)),
}

TASK_ACCESS: dict[str, Access] = {
    "strategy": Access(
        # Results of its job (backtests/<job>/) and its session's trade database
        # (trading/<session>/, read back by a replacement task); no delete anywhere.
        buckets_read=("arcticdb", "configs"),
        objects_read=("results/trading/",),
        objects_write=("results/backtests/", "results/trading/"),
        tables_write=("trading-heartbeats",), secrets=(MLFLOW_RUNNER, EXCHANGE_SECRET),
        # Its job's ticket (tradai.strategy_container.job.JobItem): read, progress, result.
        items_update=("workflow-state",),
        metrics=(TRADING_METRICS,),  # the container's profit, open trades, loop latency
    ),
    "strategy-service-task": Access(
        # configs: the versions' configs and the prepared ones; arcticdb: the candles of the
        # validation backtest (tradai.services.strategy_service.trial_backtest).
        buckets_read=("configs", "arcticdb"), buckets_write=("configs",), secrets=MLFLOW_AUTH,
    ),
}


def check_access(topo: Topology) -> None:
    """Every spec Lambda, service and task has an entry, and entries name spec resources only."""
    known = {
        "tables_read": {t.name for t in topo.tables},
        "tables_write": {t.name for t in topo.tables},
        "queues_send": {q.name for q in topo.queues},
        "buckets_read": {b.name for b in topo.buckets},
        "buckets_write": {b.name for b in topo.buckets},
        "objects_read": set(),
        "objects_write": set(),
        "topics": {t.name for t in topo.topics},
        "secrets": {s.name for s in topo.secrets},
        "start_workflows": {m.name for m in topo.state_machines},
        "watch_workflows": {m.name for m in topo.state_machines},
        "slots_take": {t.name for t in topo.tables},
        "slots_free": {t.name for t in topo.tables},
        "items_update": {t.name for t in topo.tables},
        "stop_workflows": {m.name for m in topo.state_machines},
        "invoke_lambdas": {f.name for f in topo.lambdas},
        "run_tasks": {t.name for t in topo.task_definitions},
        "metrics": set(METRIC_NAMESPACES),
    }
    for section, table, entries in (
        ("lambdas", LAMBDA_ACCESS, topo.lambdas),
        ("services", SERVICE_ACCESS, topo.services),
        ("task_definitions", TASK_ACCESS, topo.task_definitions),
    ):
        for entry in entries:
            if entry.name not in table:
                raise SpecMappingError(
                    f"{section}[{entry.name!r}]: no IAM access entry in tradai_infra.permissions; "
                    f"add one naming what it reads and writes"
                )
        for owner, access in table.items():
            for f in fields(Access):
                value = getattr(access, f.name)
                if isinstance(value, tuple):
                    if f.name.startswith("objects_"):  # "bucket/prefix/": check the bucket
                        value = tuple(v.partition("/")[0] if v.partition("/")[2].endswith("/")
                                      else f"{v} (not bucket/prefix/)" for v in value)
                        known[f.name] = known["buckets_read"]
                    unknown = [v for v in value if v not in known[f.name]]
                    if unknown:
                        raise SpecMappingError(
                            f"tradai_infra.permissions {section}[{owner!r}].{f.name} names "
                            f"{unknown[0]!r}, which the topology spec does not declare"
                        )


@dataclass(frozen=True)
class Arns:
    """ARNs by logical name, for turning Access into IAM statements."""

    tables: dict[str, pulumi.Input[str]]
    queues: dict[str, pulumi.Input[str]]
    buckets: dict[str, pulumi.Input[str]]
    topics: dict[str, pulumi.Input[str]]
    secrets: dict[str, pulumi.Input[str]]
    state_machines: dict[str, pulumi.Input[str]]
    lambdas: dict[str, pulumi.Input[str]]
    task_families: dict[str, pulumi.Input[str]]  # task definition ARN without revision, + ":*"
    cluster: pulumi.Input[str]
    cluster_tasks: pulumi.Input[str]  # arn:...:task/<cluster>/*
    cluster_services: pulumi.Input[str]
    task_roles: tuple[pulumi.Input[str], ...]  # roles RunTask must pass
    session_services: pulumi.Input[str]  # arn:...:service/<cluster>/<project>-<env>-session-*
    session_roles: tuple[pulumi.Input[str], ...]  # the strategy task and execution roles
    nat_group: pulumi.Input[str]
    route_tables: tuple[pulumi.Input[str], ...]
    instances: pulumi.Input[str]  # arn:...:instance/*
    nat_name: str


TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan")
TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
               "dynamodb:ConditionCheckItem")
SLOTS_TAKE = ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
              "dynamodb:DeleteItem")
SLOTS_FREE = ("dynamodb:Query", "dynamodb:DeleteItem")
ITEMS_UPDATE = ("dynamodb:GetItem", "dynamodb:UpdateItem")


def _suffix(arn: pulumi.Input[str], suffix: str) -> pulumi.Input[str]:
    if isinstance(arn, str):  # known now (tests, names): no Output needed
        return f"{arn}{suffix}"
    return pulumi.Output.from_input(arn).apply(lambda a: f"{a}{suffix}")


def statements(access: Access, arns: Arns) -> list[Statement]:
    out: list[Statement] = []

    def add(actions: tuple[str, ...], resources: list[pulumi.Input[str]], **cond: dict) -> None:
        if resources:
            out.append(Statement(actions, tuple(resources), cond.get("cond", {})))

    def tables(names: tuple[str, ...]) -> list[pulumi.Input[str]]:
        return [r for n in names for r in (arns.tables[n], _suffix(arns.tables[n], "/index/*"))]

    add(TABLE_READ, tables(access.tables_read))
    add(TABLE_WRITE, tables(access.tables_write))
    add(SLOTS_TAKE, [arns.tables[n] for n in access.slots_take])
    add(SLOTS_FREE, [arns.tables[n] for n in access.slots_free if n not in access.slots_take])
    add(ITEMS_UPDATE, [arns.tables[n] for n in access.items_update])
    add(("sqs:SendMessage", "sqs:GetQueueUrl"), [arns.queues[n] for n in access.queues_send])
    buckets_r = [arns.buckets[n] for n in access.buckets_read]
    buckets_w = [arns.buckets[n] for n in access.buckets_write]
    def objects(entries: tuple[str, ...]) -> list[pulumi.Input[str]]:
        return [_suffix(arns.buckets[e.partition("/")[0]], "/" + e.partition("/")[2] + "*")
                for e in entries]

    prefixed = [arns.buckets[e.partition("/")[0]]
                for e in (*access.objects_read, *access.objects_write)]
    # ListBucket also makes a missing key a 404 rather than a 403 (HeadObject, GetObject).
    add(("s3:ListBucket",), list(dict.fromkeys([*buckets_r, *buckets_w, *prefixed])))
    add(("s3:GetObject",), [*(_suffix(b, "/*") for b in buckets_r),
                            *objects(access.objects_read)])
    add(("s3:PutObject", "s3:DeleteObject"), [_suffix(b, "/*") for b in buckets_w])
    add(("s3:PutObject",), objects(access.objects_write))
    add(("sns:Publish",), [arns.topics[n] for n in access.topics])
    add(("secretsmanager:GetSecretValue",), [arns.secrets[n] for n in access.secrets])
    # No ListExecutions: the backtest limit is a slot lease (tradai.workflows.slots).
    add(("states:StartExecution",), [arns.state_machines[n] for n in access.start_workflows])
    add(("states:DescribeExecution",), [
        pulumi.Output.from_input(arns.state_machines[n]).apply(
            lambda a: a.replace(":stateMachine:", ":execution:") + ":*")
        for n in access.watch_workflows])
    add(("states:StopExecution",), [
        pulumi.Output.from_input(arns.state_machines[n]).apply(
            lambda a: a.replace(":stateMachine:", ":execution:") + ":*")
        for n in access.stop_workflows])
    add(("lambda:InvokeFunction",), [arns.lambdas[n] for n in access.invoke_lambdas])
    if access.run_tasks:
        add(("ecs:RunTask",), [arns.task_families[n] for n in access.run_tasks],
            cond={"ArnEquals": {"ecs:cluster": arns.cluster}})
        add(("iam:PassRole",), list(arns.task_roles),
            cond={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})
    if access.manage_tasks or access.run_tasks:
        add(("ecs:DescribeTasks", "ecs:StopTask"), [arns.cluster_tasks])
        # ListTasks has no task-level resource; the condition pins it to our cluster.
        add(("ecs:ListTasks",), ["*"], cond={"ArnEquals": {"ecs:cluster": arns.cluster}})
    if access.stop_tasks and not (access.manage_tasks or access.run_tasks):
        in_cluster = {"ArnEquals": {"ecs:cluster": arns.cluster}}
        add(("ecs:StopTask", "ecs:DescribeTasks"), [arns.cluster_tasks], cond=in_cluster)
        add(("ecs:ListTasks",), ["*"], cond=in_cluster)
    if access.describe_services:
        add(("ecs:DescribeServices",), [arns.cluster_services])
    if access.metrics:
        # PutMetricData has no resource-level permissions; the namespace condition scopes it
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
        # iam-cw-condition-keys-namespace.html).
        add(("cloudwatch:PutMetricData",), ["*"],
            cond={"StringEquals": {"cloudwatch:namespace": list(access.metrics)}})
    if access.trading_sessions:
        out.extend(session_statements(arns))
    if access.nat_routes:
        add(("ec2:ReplaceRoute", "ec2:CreateRoute"), list(arns.route_tables))
        add(("ec2:ModifyInstanceAttribute",), [arns.instances],
            cond={"StringEquals": {"aws:ResourceTag/Name": arns.nat_name}})
        add(("autoscaling:CompleteLifecycleAction",), [arns.nat_group])
        # Describe calls support no resource-level permissions in EC2.
        add(("ec2:DescribeInstances", "ec2:DescribeRouteTables"), ["*"])
    return out


def session_statements(arns: Arns) -> list[Statement]:
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
                  {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
        Statement(("secretsmanager:DescribeSecret",), (arns.secrets[EXCHANGE_SECRET],)),
    ]
