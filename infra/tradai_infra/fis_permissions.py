"""The FIS experiment role's permissions, derived from the actions of the deployed templates.

Each AWS FIS action needs the permissions the FIS actions reference lists for it
(https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html), scoped here to
the resources its target names wherever IAM can express that. Removing a template removes
exactly the statements only its actions needed. ``RULES`` must cover every ``aws:`` action the
catalog (``tradai.faults.catalog``) accepts; an action without a rule cannot be deployed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tradai_infra.iam import Statement

ANY = "*"  # only for actions AWS cannot scope to a resource (Describe*, tag:GetResources, ...)
FIS_MANAGED_TAG = "managedByFIS"  # FIS tags the network ACLs it creates with this = "true"


@dataclass(frozen=True)
class Scope:
    """Where the experiments run: the ARNs the statements are built from."""

    region: str
    account: str
    vpc_arn: str  # the VPC whose subnets disrupt-connectivity re-associates

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


Body = Mapping[str, Any]  # a rendered template (FIS CreateExperimentTemplate input)
Action = Mapping[str, Any]
Rule = Callable[[Action, Mapping[str, Any] | None, Scope], list[Statement]]


def _tag_conditions(target: Mapping[str, Any]) -> dict[str, Any]:
    tags = target.get("resourceTags") or {}
    return {"StringEquals": {f"aws:ResourceTag/{k}": v for k, v in tags.items()}} if tags else {}


def _scoped(actions: tuple[str, ...], target: Mapping[str, Any] | None, pattern: str) -> Statement:
    """On the target's ARNs when it lists them, else on ``pattern`` limited by its tags."""
    arns = tuple((target or {}).get("resourceArns") or ())
    if arns:
        return Statement(actions, arns)
    return Statement(actions, (pattern,), _tag_conditions(target or {}))


def _terminate_instances(action: Action, target: Mapping | None, scope: Scope) -> list[Statement]:
    return [_scoped(("ec2:TerminateInstances",), target, scope.arn("ec2", "instance/*")),
            Statement(("ec2:DescribeInstances",), (ANY,))]


def _stop_instances(action: Action, target: Mapping | None, scope: Scope) -> list[Statement]:
    out = [_scoped(("ec2:StopInstances", "ec2:StartInstances"), target,
                   scope.arn("ec2", "instance/*"))]
    # The reference: DescribeInstances is needed only to check, at the end, which instances
    # were terminated meanwhile (completeIfInstancesTerminated).
    if (action.get("parameters") or {}).get("completeIfInstancesTerminated") == "true":
        out.append(Statement(("ec2:DescribeInstances",), (ANY,)))
    return out


def _stop_task(action: Action, target: Mapping | None, scope: Scope) -> list[Statement]:
    cluster = ((target or {}).get("parameters") or {}).get("cluster")
    tasks = scope.arn("ecs", f"task/{cluster}/*" if cluster else "task/*")
    on_cluster = ({"ArnEquals": {"ecs:cluster": scope.arn("ecs", f"cluster/{cluster}")}}
                  if cluster else {})
    return [_scoped(("ecs:StopTask", "ecs:DescribeTasks"), target, tasks),
            Statement(("ecs:ListTasks",), (ANY,), on_cluster),
            Statement(("tag:GetResources",), (ANY,))]


def _disrupt_connectivity(action: Action, target: Mapping | None,
                          scope: Scope) -> list[Statement]:
    """FIS swaps each target subnet's network ACL for one it creates (tagged managedByFIS)
    and swaps it back at the end, so it may re-associate the VPC's ACLs and the target
    subnets, and create, fill and delete only ACLs carrying its tag."""
    acls = scope.arn("ec2", "network-acl/*")
    fis_tag = {"StringEquals": {f"aws:RequestTag/{FIS_MANAGED_TAG}": "true"}}
    return [
        Statement(("ec2:CreateNetworkAcl",), (acls,), fis_tag),
        Statement(("ec2:CreateNetworkAcl",), (scope.vpc_arn,)),
        Statement(("ec2:CreateTags",), (acls,), {"StringEquals": {
            "ec2:CreateAction": "CreateNetworkAcl", f"aws:RequestTag/{FIS_MANAGED_TAG}": "true"}}),
        Statement(("ec2:CreateNetworkAclEntry", "ec2:DeleteNetworkAcl"), (acls,),
                  {"StringEquals": {f"ec2:ResourceTag/{FIS_MANAGED_TAG}": "true"}}),
        Statement(("ec2:ReplaceNetworkAclAssociation",), (acls,),
                  {"ArnEquals": {"ec2:Vpc": scope.vpc_arn}}),
        _scoped(("ec2:ReplaceNetworkAclAssociation",), target, scope.arn("ec2", "subnet/*")),
        Statement(("ec2:DescribeManagedPrefixLists", "ec2:DescribeNetworkAcls",
                   "ec2:DescribeSubnets", "ec2:DescribeVpcs"), (ANY,)),
        # AWS-managed prefix lists (s3, dynamodb scopes) belong to another account.
        Statement(("ec2:GetManagedPrefixListEntries",),
                  (f"arn:aws:ec2:{scope.region}:*:prefix-list/*",)),
    ]


def _asg_capacity_error(action: Action, target: Mapping | None, scope: Scope) -> list[Statement]:
    # ec2:InjectApiError has no resource type: the condition keys name the action and the
    # groups. A group chosen by tags has no name here, so this account's groups in the region.
    groups = tuple((target or {}).get("resourceArns") or ()) or (
        scope.arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*"),)
    return [Statement(("ec2:InjectApiError",), (ANY,), {
                "StringEquals": {"ec2:FisActionId": action["actionId"]},
                "ForAllValues:ArnLike": {"ec2:FisTargetArns": list(groups)}}),
            Statement(("autoscaling:DescribeAutoScalingGroups",), (ANY,))]


def _api_error(permission: str) -> Rule:
    def rule(action: Action, target: Mapping | None, scope: Scope) -> list[Statement]:
        # Condition keys of fis:InjectApi*: which service's calls and whose (the roles).
        params = action.get("parameters") or {}
        conditions: dict[str, Any] = {"StringEquals": {"fis:Service": params["service"]}}
        roles = list((target or {}).get("resourceArns") or ())
        if roles:
            conditions["ForAllValues:StringEquals"] = {"fis:Targets": roles}
        return [Statement((permission,), (scope.arn("fis", "experiment/*"),), conditions)]

    return rule


def _no_permissions(action: Action, target: Mapping | None, scope: Scope) -> list[Statement]:
    return []


RULES: dict[str, Rule] = {
    "aws:ec2:terminate-instances": _terminate_instances,
    "aws:ec2:stop-instances": _stop_instances,
    "aws:ecs:stop-task": _stop_task,
    "aws:network:disrupt-connectivity": _disrupt_connectivity,
    "aws:ec2:asg-insufficient-instance-capacity-error": _asg_capacity_error,
    "aws:fis:inject-api-internal-error": _api_error("fis:InjectApiInternalError"),
    "aws:fis:inject-api-throttle-error": _api_error("fis:InjectApiThrottleError"),
    "aws:fis:inject-api-unavailable-error": _api_error("fis:InjectApiUnavailableError"),
    "aws:fis:wait": _no_permissions,
}


def _action_statements(body: Body, scope: Scope) -> list[Statement]:
    targets = body.get("targets") or {}
    out: list[Statement] = []
    for action in (body.get("actions") or {}).values():
        names = list((action.get("targets") or {}).values())
        target = targets.get(names[0]) if names else None
        out.extend(RULES[action["actionId"]](action, target, scope))
    return out


def _stop_condition_statements(body: Body) -> list[Statement]:
    alarms = tuple(c["value"] for c in body.get("stopConditions") or ()
                   if c.get("source") == "aws:cloudwatch:alarm")
    return [Statement(("cloudwatch:DescribeAlarms",), alarms)] if alarms else []


def _merged(statements: Iterable[Statement]) -> list[Statement]:
    """One statement per (actions, conditions), with the union of their resources."""
    merged: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for s in statements:
        key = (tuple(sorted(set(s.actions))), json.dumps(s.conditions, sort_keys=True))
        resources = merged.setdefault(key, [])
        resources.extend(r for r in s.resources if r not in resources)  # type: ignore[misc]
    return [Statement(actions, tuple(resources), json.loads(conditions))
            for (actions, conditions), resources in merged.items()]


def fis_statements(bodies: Iterable[Body], scope: Scope) -> list[Statement]:
    """Exactly what the actions and stop conditions of ``bodies`` need, merged."""
    out: list[Statement] = []
    for body in bodies:
        out.extend(_action_statements(body, scope))
        out.extend(_stop_condition_statements(body))
    return _merged(out)


def trust_policy(scope: Scope) -> str:
    """Assumable by FIS for this account's experiments only (the confused-deputy guard the
    FIS user guide recommends)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": scope.account},
                      "ArnLike": {"aws:SourceArn": scope.arn("fis", "experiment/*")}}}]},
        sort_keys=True)
