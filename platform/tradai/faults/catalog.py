"""The actions the templates may use: AWS FIS actions (as the FIS actions reference documents
them, https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html) and the
``tradai:`` harness actions of the local cloud, each with its target key, resource types and
parameters. ``validation.validate_template`` checks a whole template against this catalog."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tradai.faults import params as p

HARNESS_PREFIX = "tradai:"
AWS_PREFIX = "aws:"


@dataclass(frozen=True)
class Param:
    name: str
    check: p.Check
    required: bool = False
    default: str | None = None


@dataclass(frozen=True)
class ResourceType:
    name: str
    # First segments of the filter paths FIS accepts for the type (the resource's describe
    # output, e.g. ``Placement.AvailabilityZone`` for instances).
    filter_roots: frozenset[str] = frozenset()
    # Target ``parameters`` the type accepts (ECS tasks: cluster, service).
    parameters: frozenset[str] = frozenset()


# A cross-parameter rule: given the parameters, (parameter, reason) for each problem.
CrossCheck = Callable[[Mapping[str, str]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ActionSpec:
    action_id: str
    description: str
    targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> types
    params: tuple[Param, ...] = ()
    cross: CrossCheck | None = None

    @property
    def harness(self) -> bool:
        return self.action_id.startswith(HARNESS_PREFIX)

    def param(self, name: str) -> Param | None:
        return next((x for x in self.params if x.name == name), None)

    def value(self, parameters: Mapping[str, str], name: str) -> str | None:
        """A parameter's value, or its default."""
        spec = self.param(name)
        return parameters.get(name, spec.default if spec else None)


RESOURCE_TYPES: dict[str, ResourceType] = {r.name: r for r in [
    ResourceType("aws:ec2:instance", frozenset({
        "State", "Placement", "InstanceId", "InstanceType", "SubnetId", "VpcId", "ImageId",
        "PrivateIpAddress", "PublicIpAddress", "Architecture", "Platform", "KeyName",
        "SecurityGroups", "IamInstanceProfile"})),
    ResourceType("aws:ec2:subnet", frozenset({
        "AvailabilityZone", "AvailabilityZoneId", "SubnetId", "VpcId", "CidrBlock", "State",
        "MapPublicIpOnLaunch", "DefaultForAz"})),
    ResourceType("aws:ec2:autoscaling-group", frozenset({
        "AutoScalingGroupName", "AvailabilityZones", "VPCZoneIdentifier"})),
    ResourceType("aws:ecs:task", frozenset({
        "AvailabilityZone", "LastStatus", "DesiredStatus", "Group", "LaunchType",
        "TaskDefinitionArn", "StartedBy"}), frozenset({"cluster", "service"})),
    ResourceType("aws:iam:role", frozenset({"RoleName", "Path", "RoleId"})),
    # Harness only: FIS has no queue resource type.
    ResourceType("tradai:sqs:queue", frozenset({"QueueName"})),
]}

_AWS_DURATION = p.duration(p.MINUTE, p.TWELVE_HOURS)  # "from one minute to 12 hours"
_HARNESS_DURATION = p.duration(1.0, p.TWELVE_HOURS)
DISRUPT_SCOPES = ("all", "availability-zone", "dynamodb", "prefix-list", "s3")
API_ERROR_KINDS = ("internal", "throttle", "unavailable")


def _prefix_list(params: Mapping[str, str]) -> list[tuple[str, str]]:
    scope = params.get("scope", "all")
    if scope == "prefix-list" and not params.get("prefixListIdentifier"):
        return [("prefixListIdentifier", "is required when scope is prefix-list")]
    if scope != "prefix-list" and "prefixListIdentifier" in params:
        return [("prefixListIdentifier", f"applies only to scope prefix-list, not {scope!r}")]
    return []


def _api_error(kind: str, harness: bool) -> ActionSpec:
    prefix = HARNESS_PREFIX if harness else AWS_PREFIX
    action_id = f"{prefix}fis:inject-api-{kind}-error"
    alternative = None if harness else f"{HARNESS_PREFIX}fis:inject-api-{kind}-error"
    return ActionSpec(
        action_id,
        f"Calls of the targeted IAM roles to the given operations get {kind} errors"
        + (" (any AWS API namespace; harness only)" if harness else " (AWS supports ec2)"),
        {"Roles": ("aws:iam:role",)},
        (Param("duration", _HARNESS_DURATION if harness else _AWS_DURATION, required=True),
         Param("service", p.service_namespace(None if harness else ("ec2",), action_id,
                                               alternative), required=True),
         Param("operations", p.operations(), required=True),
         Param("percentage", p.percentage(), required=True)))


_ACTIONS: list[ActionSpec] = [
    ActionSpec("aws:ec2:terminate-instances", "Terminate the targeted EC2 instances",
               {"Instances": ("aws:ec2:instance",)}),
    ActionSpec("aws:ec2:stop-instances",
               "Stop the targeted EC2 instances; start them again after "
               "startInstancesAfterDuration when given",
               {"Instances": ("aws:ec2:instance",)},
               (Param("startInstancesAfterDuration", _AWS_DURATION),
                Param("completeIfInstancesTerminated", p.boolean(), default="false"))),
    ActionSpec("aws:ecs:stop-task", "Stop the targeted ECS tasks", {"Tasks": ("aws:ecs:task",)}),
    ActionSpec("aws:network:disrupt-connectivity",
               "Deny the given traffic to and from the targeted subnets for the duration",
               {"Subnets": ("aws:ec2:subnet",)},
               (Param("duration", _AWS_DURATION, required=True),
                Param("scope", p.choice(*DISRUPT_SCOPES), default="all"),
                Param("prefixListIdentifier", p.text())),
               _prefix_list),
    ActionSpec("aws:ec2:asg-insufficient-instance-capacity-error",
               "Launches of the targeted Auto Scaling groups in the given AZs fail with "
               "InsufficientInstanceCapacity for the duration",
               {"AutoScalingGroups": ("aws:ec2:autoscaling-group",)},
               (Param("availabilityZoneIdentifiers", p.availability_zones(), required=True),
                Param("duration", _AWS_DURATION, required=True),
                Param("percentage", p.percentage(), default="100"))),
    *[_api_error(kind, harness=False) for kind in API_ERROR_KINDS],
    ActionSpec("aws:fis:wait", "Wait for the duration (stop conditions are still monitored)",
               {}, (Param("duration", _AWS_DURATION, required=True),)),
    # -- harness actions (local cloud only) --------------------------------------------------
    *[_api_error(kind, harness=True) for kind in API_ERROR_KINDS],
    ActionSpec("tradai:process:freeze",
               "SIGSTOP the process group of the targeted ECS tasks for the duration, then "
               "SIGCONT", {"Tasks": ("aws:ecs:task",)},
               (Param("duration", _HARNESS_DURATION, required=True),)),
    ActionSpec("tradai:exchange:outage",
               "The exchange simulator answers nothing useful for the duration",
               {}, (Param("duration", _HARNESS_DURATION, required=True),
                    Param("mode", p.choice("503", "close"), default="503"))),
    ActionSpec("tradai:exchange:latency", "The exchange simulator answers late for the duration",
               {}, (Param("duration", _HARNESS_DURATION, required=True),
                    Param("latencyMs", p.integer(1, 600_000), required=True))),
    ActionSpec("tradai:exchange:throttle",
               "The exchange simulator answers 429 to every request for the duration",
               {}, (Param("duration", _HARNESS_DURATION, required=True),
                    Param("retryAfter", p.integer(0, 86_400)))),
    ActionSpec("tradai:sqs:poison-messages",
               "Send malformed messages to the targeted queue (FIFO: own group and dedup ids)",
               {"Queues": ("tradai:sqs:queue",)},
               (Param("count", p.integer(1, 100), default="5"),
                Param("body", p.text(), default='{"job_id": ')),),
    ActionSpec("tradai:mlflow:database-down",
               "MLflow's backend store is unavailable for the duration (an exclusive lock on "
               "its SQLite database)",
               {}, (Param("duration", _HARNESS_DURATION, required=True),)),
    ActionSpec("tradai:rds:instance-down",
               "The RDS instance (MLflow's PostgreSQL store) is stopped for the duration and "
               "started again at its end (StopDBInstance / StartDBInstance on AWS)",
               {}, (Param("duration", _HARNESS_DURATION, required=True),)),
    ActionSpec("tradai:az:outage",
               "An Availability Zone loses power (processes die, no placements) or network "
               "(its subnets cut off) for the duration",
               {}, (Param("availabilityZone", p.availability_zone(), required=True),
                    Param("kind", p.choice("power", "network"), required=True),
                    Param("duration", _HARNESS_DURATION, required=True))),
]

ACTIONS: dict[str, ActionSpec] = {a.action_id: a for a in _ACTIONS}
