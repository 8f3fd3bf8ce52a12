"""IAM helpers: trust policies and least-privilege inline policies built from statements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Statement:
    """One Allow statement; resources may be Outputs (ARNs of resources not yet created)."""

    actions: tuple[str, ...]
    resources: tuple[pulumi.Input[str], ...]
    conditions: dict[str, Any] = field(default_factory=dict)


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """Render statements to JSON once every ARN (and ARN in a condition) is known."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": sorted(set(s.actions)),
                "Resource": list(s.resources),
                **({"Condition": s.conditions} if s.conditions else {}),
            }
            for s in statements
        ],
    }
    return pulumi.Output.from_input(doc).apply(lambda d: json.dumps(d, sort_keys=True))


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def role_with_document(
    resource_name: str,
    role_name: str,
    service: str,
    document: pulumi.Input[str],
    tags: dict[str, str],
    policy_name: str | None = None,
) -> aws.iam.Role:
    """A role assumable by ``service`` whose one inline policy is ``document`` (JSON), named
    ``policy_name`` (the local cloud puts the same document under the same name)."""
    role = aws.iam.Role(resource_name, name=role_name,
                        assume_role_policy=assume_role_policy(service), tags=tags)
    aws.iam.RolePolicy(f"{resource_name}-policy", role=role.id, name=policy_name,
                       policy=document, opts=pulumi.ResourceOptions(parent=role))
    return role


def role_with_policy(
    resource_name: str,
    role_name: str,
    service: str,
    statements: Sequence[Statement],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions | None = None,
) -> aws.iam.Role:
    """A role assumable by ``service`` with exactly ``statements`` as its inline policy."""
    role = aws.iam.Role(
        resource_name,
        name=role_name,
        assume_role_policy=assume_role_policy(service),
        tags=tags,
        opts=opts,
    )
    if statements:
        aws.iam.RolePolicy(
            f"{resource_name}-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return role
