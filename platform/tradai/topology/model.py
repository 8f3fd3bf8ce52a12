"""The topology spec's shape: pydantic models, one per kind of resource."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AzSubnets(_Entry):
    name: str
    public: str
    private: str
    database: str

    @field_validator("public", "private", "database")
    @classmethod
    def _cidr(cls, v: str) -> str:
        ipaddress.ip_network(v)
        return v


class LifecycleHook(_Entry):
    name: str
    transition: Literal[
        "autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"
    ]
    heartbeat_timeout: int = Field(gt=0)
    default_result: Literal["CONTINUE", "ABANDON"]
    target_lambda: str


class Nat(_Entry):
    instance_type: str
    asg_min: int = Field(ge=1)
    asg_max: int = Field(ge=1)
    replacement_seconds: int = Field(gt=0)
    lifecycle_hook: LifecycleHook


# The AWS services a VPC endpoint can be declared for, by the name after
# ``com.amazonaws.<region>.`` -> the boto3 client that calls that API (None: no SDK client, as
# ecr.dkr, the Docker registry the image pull talks to). Gateway endpoints exist for S3 and
# DynamoDB only (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html);
# the interface ones are AWS services that integrate with PrivateLink
# (https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html).
GATEWAY_ENDPOINT_SERVICES: dict[str, str] = {"s3": "s3", "dynamodb": "dynamodb"}
INTERFACE_ENDPOINT_SERVICES: dict[str, str | None] = {
    "autoscaling": "autoscaling", "ec2": "ec2", "ecr.api": "ecr", "ecr.dkr": None,
    "ecs": "ecs", "events": "events", "kms": "kms", "lambda": "lambda", "logs": "logs",
    "monitoring": "cloudwatch", "s3": "s3", "secretsmanager": "secretsmanager", "sns": "sns",
    "sqs": "sqs", "ssm": "ssm", "states": "stepfunctions", "sts": "sts",
}


class Endpoints(_Entry):
    """The VPC endpoints of the private subnets: how a process there reaches an AWS API when
    its route table has no working ``0.0.0.0/0`` route to a NAT."""

    gateway: list[str] = []
    interface: list[str] = []

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: list[str]) -> list[str]:
        return _known_services(v, GATEWAY_ENDPOINT_SERVICES, "gateway")

    @field_validator("interface")
    @classmethod
    def _interface(cls, v: list[str]) -> list[str]:
        return _known_services(v, INTERFACE_ENDPOINT_SERVICES, "interface")

    @model_validator(mode="after")
    def _once(self) -> Endpoints:
        both = sorted(set(self.gateway) & set(self.interface))
        if both:
            raise ValueError(f"{both[0]!r} is declared as both a gateway and an interface "
                             "endpoint; declare one")
        return self

    def clients(self) -> dict[str, tuple[str, str]]:
        """boto3 client name -> (endpoint service name, "gateway" | "interface")."""
        out: dict[str, tuple[str, str]] = {}
        for kind, names, table in (("gateway", self.gateway, GATEWAY_ENDPOINT_SERVICES),
                                   ("interface", self.interface, INTERFACE_ENDPOINT_SERVICES)):
            for name in names:
                client = table[name]
                if client is not None:
                    out[client] = (name, kind)
        return out


def _known_services(v: list[str], known: Mapping[str, str | None], kind: str) -> list[str]:
    for name in v:
        if name not in known:
            raise ValueError(f"unknown {kind} endpoint service {name!r}; known: "
                             f"{', '.join(sorted(known))}")
    dupes = sorted({n for n in v if v.count(n) > 1})
    if dupes:
        raise ValueError(f"{kind} endpoint service {dupes[0]!r} is listed twice")
    return v


class Network(_Entry):
    vpc_cidr: str
    azs: list[AzSubnets]
    nat: Nat
    endpoints: Endpoints = Endpoints()


class Access(_Entry):
    """Who may touch what: the least-privilege access of one function, service or task, by the
    spec's logical names. ``tradai.topology.iam_policy`` turns it into the role's policy (the
    Pulumi program and the local cloud both), ``tradai.topology.access`` proves it names spec
    resources only and decides what a component is told (``runtime_config``)."""

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


class Service(_Entry):
    name: str
    entrypoint: str
    cpu: int
    memory: int
    port: int = Field(gt=0, lt=65536)
    min: int = Field(ge=0)
    max: int = Field(ge=1)
    health_path: str
    cpu_target: int = Field(gt=0, le=100)
    load_balanced: bool
    # Unset only in models built in code; the loader refuses a spec entry without it.
    access: Access | None = None


class TaskDefinition(_Entry):
    name: str
    entrypoint: str
    cpu: int
    memory: int
    modes: list[str]
    spot_modes: list[str] = []
    max_concurrent: int = Field(ge=1)
    # The process reads the wall clock itself (Freqtrade's bot: candle freshness, its loop,
    # trade times). On AWS that clock is the platform's; the local harness makes such a
    # process's own clock follow the stack's dilated clock (libfaketime), by configuration.
    reads_wall_clock: bool = False
    # The secret its MLflow client logs in with (``TRADAI_MLFLOW_AUTH_SECRET``): the strategy
    # container runs untrusted strategy code, so it gets a login that cannot write the registry.
    mlflow_secret: str = "mlflow-basic-auth"
    access: Access | None = None  # required in the spec (the loader)


class Queue(_Entry):
    name: str
    fifo: bool
    content_based_dedup: bool = False
    visibility_timeout: int = Field(ge=0, le=43200)
    retention_seconds: int = Field(ge=60, le=1209600)
    dlq: str | None = None
    max_receive_count: int | None = Field(default=None, ge=1, le=1000)


class Index(_Entry):
    name: str
    hash_key: str
    range_key: str | None = None


class Table(_Entry):
    name: str
    hash_key: str
    range_key: str | None = None
    ttl_attribute: str | None = None
    ttl_days: int | None = None
    indexes: list[Index] = []


class Named(_Entry):
    name: str


class Secret(_Entry):
    name: str
    description: str
    fields: list[str]


class ScheduleEntry(_Entry):
    name: str
    expression: str
    target_lambda: str


class StateMachine(_Entry):
    name: str
    asl: str
    timeout_seconds: int = Field(gt=0)


class SqsTrigger(_Entry):
    type: Literal["sqs"]
    queue: str
    batch_size: int = Field(ge=1, le=10)


class ScheduleTrigger(_Entry):
    type: Literal["schedule"]
    schedule: str


class StepFunctionsTrigger(_Entry):
    type: Literal["stepfunctions"]
    state_machines: list[str]


class LifecycleHookTrigger(_Entry):
    type: Literal["lifecycle-hook"]
    hook: str


class BackendApiTrigger(_Entry):
    type: Literal["backend-api"]


Trigger = Annotated[
    SqsTrigger | ScheduleTrigger | StepFunctionsTrigger | LifecycleHookTrigger | BackendApiTrigger,
    Field(discriminator="type"),
]


class LambdaFunction(_Entry):
    name: str
    handler: str
    memory: int = Field(ge=128, le=10240)
    timeout: int = Field(ge=1, le=900)
    in_vpc: bool
    trigger: Trigger
    required: bool
    access: Access | None = None  # required in the spec (the loader)


class RateLimit(_Entry):
    requests: int = Field(gt=0)
    per_seconds: int = Field(gt=0)


class Route(_Entry):
    path: str
    method: str
    target: Literal["queue", "service"]
    queue: str | None = None
    service: str | None = None


class Role(_Entry):
    """A Cognito group of the user pool and what its members may do (``tradai.authz``)."""
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str
    permissions: list[str]


class Edge(_Entry):
    user_pool: str
    app_client: str
    dev_user: str
    rate_limit: RateLimit
    routes: list[Route]
    roles: list[Role]
    default_role: str  # what a token without a known group gets
    dev_user_roles: list[str]  # the default dev user's groups (what the README's examples need)
    # MLflow endpoints that a POST only reads with (searches); every other non-GET call
    # through the gateway's /mlflow route is a registry write, refused with 403.
    mlflow_read_only_posts: list[str]

    def role(self, name: str) -> Role:
        return _by_name(self.roles, name)  # type: ignore[no-any-return]


class Database(_Entry):
    engine: str
    engine_version: str
    instance_class: str
    allocated_storage: int
    name: str
    secret: str


ALARM_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


class Alarm(_Entry):
    """A CloudWatch metric alarm on one queue (dimension ``QueueName``) or on one load-balanced
    service's target group (``TargetGroup`` and ``LoadBalancer``). Unset, it is the DLQ alarms'
    shape: Maximum over 60 s, 1 of 1 datapoints, >= threshold; missing data is treated as
    CloudWatch's default (``missing``)."""

    name: str
    metric: str
    namespace: str
    queue: str | None = None
    target_group: str | None = None  # the name of a load-balanced service
    statistic: str = "Maximum"  # one of ALARM_STATISTICS, or a percentile such as p99
    period: int = 60
    evaluation_periods: int = Field(default=1, ge=1)
    datapoints_to_alarm: int | None = Field(default=None, ge=1)  # unset: every period ("N of N")
    comparison: Literal["GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                        "LessThanThreshold", "LessThanOrEqualToThreshold"] = \
        "GreaterThanOrEqualToThreshold"
    threshold: float
    treat_missing_data: Literal["missing", "notBreaching", "breaching", "ignore"] = "missing"
    topic: str

    @field_validator("statistic")
    @classmethod
    def _statistic(cls, v: str) -> str:
        if v in ALARM_STATISTICS:
            return v
        try:
            ok = v.startswith("p") and 0 < float(v[1:]) <= 100
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"statistic {v!r} is not one of {', '.join(ALARM_STATISTICS)} "
                             f"or a percentile (p50, p99.9)")
        return v

    @field_validator("period")
    @classmethod
    def _period(cls, v: int) -> int:
        if v not in (10, 20, 30) and (v <= 0 or v % 60):
            raise ValueError("period must be 10, 20, 30 or a multiple of 60 seconds")
        return v

    @property
    def points_to_alarm(self) -> int:
        """DatapointsToAlarm (M of N); CloudWatch's default is every evaluation period."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @property
    def is_percentile(self) -> bool:
        """A percentile goes to CloudWatch as ExtendedStatistic, the others as Statistic."""
        return self.statistic not in ALARM_STATISTICS


class Topology(_Entry):
    project: str
    region: str
    network: Network
    cluster: str
    services: list[Service]
    service_restart_seconds: int = Field(gt=0)
    task_definitions: list[TaskDefinition]
    queues: list[Queue]
    tables: list[Table]
    buckets: list[Named]
    topics: list[Named]
    secrets: list[Secret]
    schedules: list[ScheduleEntry]
    state_machines: list[StateMachine]
    lambdas: list[LambdaFunction]
    edge: Edge
    database: Database
    alarms: list[Alarm]

    # Lookups by logical name; the loader has already proven the names unique.
    def lambda_(self, name: str) -> LambdaFunction:
        return _by_name(self.lambdas, name)

    def queue(self, name: str) -> Queue:
        return _by_name(self.queues, name)

    def service(self, name: str) -> Service:
        return _by_name(self.services, name)

    def schedule(self, name: str) -> ScheduleEntry:
        return _by_name(self.schedules, name)

    def table(self, name: str) -> Table:
        return _by_name(self.tables, name)


def _by_name(entries: list[Any], name: str) -> Any:
    for entry in entries:
        if entry.name == name:
            return entry
    raise KeyError(name)
