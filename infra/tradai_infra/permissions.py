"""Who may touch what, on AWS: the ARN plumbing between this stack's resources and the one
policy builder.

Each function's, service's and task's access is in the topology spec (its ``access`` entry,
validated when the spec loads); ``tradai.topology.iam_policy`` builds the policy document from
it and plain ARNs, for the local cloud and for this program alike. Here the ARNs are Pulumi
Outputs, so :func:`role_policy` resolves them all first (``Output.all``) and builds the
document inside ``apply``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

import pulumi

from tradai.topology import Topology
from tradai.topology.access import access_problems
from tradai.topology.iam_policy import ResourceArns
from tradai.topology.iam_policy import role_policy as build_role_policy
from tradai_infra.errors import SpecMappingError


def check_access(topo: Topology) -> None:
    """Before any resource: every function, service and task has its access in the spec, and
    it names spec resources only (the loader checks a spec file; a Topology built in code is
    checked here)."""
    problems = access_problems(topo)
    if problems:
        raise SpecMappingError(problems[0])


@dataclass(frozen=True)
class Arns:
    """ResourceArns as Pulumi Inputs (ARNs of resources that do not exist yet)."""

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
    # A function's log group (functions.py adds each as it declares the group).
    log_groups: dict[str, pulumi.Input[str]] = field(default_factory=dict)

    def with_log_group(self, function: str, arn: pulumi.Input[str]) -> Arns:
        return replace(self, log_groups={**self.log_groups, function: arn})


def resolve(arns: Arns) -> pulumi.Output[ResourceArns]:
    """Every ARN known: one Output of plain strings for the builder."""
    raw: dict[str, Any] = {f.name: (list(v) if isinstance(v := getattr(arns, f.name), tuple)
                                    else v) for f in fields(Arns)}
    return pulumi.Output.from_input(raw).apply(lambda d: ResourceArns(**{
        k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}))


def role_policy(topo: Topology, component: str, arns: Arns) -> pulumi.Output[str]:
    """The JSON policy document of a component's role, from the one builder."""
    return resolve(arns).apply(
        lambda resolved: json.dumps(build_role_policy(topo, component, resolved),
                                    sort_keys=True))
