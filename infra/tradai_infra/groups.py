"""Who may do what, on AWS: one Cognito group per role of the spec (``edge.roles``), and for a
role that acts on AWS directly (DLQ replay, fault experiments) an IAM role its group carries.

The platform API checks the groups itself (``tradai.authz`` reads the token's
``cognito:groups``). What an operator does straight against AWS with ``tradai dlq`` or AWS FIS
needs AWS credentials: the group's ``role_arn`` is the role an identity pool hands its members
(token-based role mapping, https://docs.aws.amazon.com/cognito/latest/developerguide/
role-based-access-control.html). Members of no group with a role get no credentials
(ambiguous role resolution ``Deny``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from tradai.authz import DLQ_REPLAY, FAULTS_INJECT
from tradai.topology.model import Role
from tradai_infra.context import Context
from tradai_infra.iam import Statement, policy_document

# Permissions that act on AWS resources directly rather than through the platform API.
AWS_DIRECT = (DLQ_REPLAY, FAULTS_INJECT)
COGNITO_IDENTITY = "cognito-identity.amazonaws.com"

# What the DLQ replay of ``tradai dlq`` (tradai.redrive.sqs) calls on a DLQ, and what the move
# task needs besides: receive/delete/attributes on the DLQ and SendMessage on the queue it
# moves to (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
# sqs-api-permissions-reference.html, StartMessageMoveTask / CancelMessageMoveTask rows).
DLQ_ACTIONS = ("sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks",
               "sqs:CancelMessageMoveTask", "sqs:ReceiveMessage", "sqs:DeleteMessage",
               "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListDeadLetterSourceQueues")
REDRIVE_TARGET_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes")
# AWS FIS (https://docs.aws.amazon.com/service-authorization/latest/reference/
# list_awsfaultinjectionservice.html): StartExperiment needs the template and the experiment
# it creates; an experiment's ID is known only once it runs, so those calls are scoped to this
# account's experiments in the region. The List calls take no resource.
FIS_TEMPLATE_ACTIONS = ("fis:StartExperiment", "fis:GetExperimentTemplate")
FIS_EXPERIMENT_ACTIONS = ("fis:StartExperiment", "fis:StopExperiment", "fis:GetExperiment",
                          "fis:ListExperimentResolvedTargets")
FIS_LIST_ACTIONS = ("fis:ListExperiments", "fis:ListExperimentTemplates")


@dataclass(frozen=True)
class Groups:
    groups: dict[str, aws.cognito.UserGroup]
    roles: dict[str, aws.iam.Role]  # spec role name -> the IAM role its group carries
    identity_pool: aws.cognito.IdentityPool


def precedence(roles: Sequence[Role]) -> dict[str, int]:
    """The spec lists roles from least to most privileged; Cognito picks the group with the
    lowest precedence when a user's groups carry several roles, so the last one gets 0."""
    return {r.name: len(roles) - 1 - i for i, r in enumerate(roles)}


def dlq_statements(queue_arns: Mapping[str, pulumi.Input[str]],
                   dlq_sources: Mapping[str, Sequence[str]]) -> list[Statement]:
    """Replay of each DLQ (``dlq_sources``: DLQ name -> the queues that dead-letter into it,
    where a replay moves the messages back)."""
    if not dlq_sources:
        return []
    targets = [queue_arns[s] for sources in dlq_sources.values() for s in sources]
    return [Statement(DLQ_ACTIONS, tuple(queue_arns[d] for d in dlq_sources)),
            Statement(REDRIVE_TARGET_ACTIONS, tuple(dict.fromkeys(targets)))]


def fis_statements(template_arns: Sequence[pulumi.Input[str]],
                   experiments: pulumi.Input[str]) -> list[Statement]:
    if not template_arns:
        return []
    return [Statement(FIS_TEMPLATE_ACTIONS, tuple(template_arns)),
            Statement(FIS_EXPERIMENT_ACTIONS, (experiments,)),
            Statement(FIS_LIST_ACTIONS, ("*",))]


def identity_trust(identity_pool_id: str) -> str:
    """Assumable only through this identity pool, by signed-in users (the ``aud`` condition
    IAM requires for the Cognito identity principal, and ``amr`` authenticated)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": COGNITO_IDENTITY},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{COGNITO_IDENTITY}:aud": identity_pool_id},
                      "ForAnyValue:StringLike": {f"{COGNITO_IDENTITY}:amr": "authenticated"}}}]},
        sort_keys=True)


def build_groups(ctx: Context, pool: aws.cognito.UserPool, client: aws.cognito.UserPoolClient,
                 queues: Mapping[str, aws.sqs.Queue],
                 fault_templates: Mapping[str, aws.fis.ExperimentTemplate]) -> Groups:
    spec = ctx.topo.edge
    provider = pool.id.apply(lambda pid: f"cognito-idp.{ctx.region}.amazonaws.com/{pid}")
    identity_pool = aws.cognito.IdentityPool(
        ctx.name("identities"),
        identity_pool_name=ctx.name("identities"),
        allow_unauthenticated_identities=False,
        allow_classic_flow=False,
        cognito_identity_providers=[{"client_id": client.id, "provider_name": provider,
                                     "server_side_token_check": True}],
        tags=ctx.tags,
    )
    trust = identity_pool.id.apply(identity_trust)
    statements = _direct_statements(ctx, queues, fault_templates)
    roles: dict[str, aws.iam.Role] = {}
    for role in spec.roles:
        stmts = [s for p in AWS_DIRECT if p in role.permissions for s in statements[p]]
        if stmts:
            roles[role.name] = _role(ctx, ctx.name(role.name), trust, stmts)
    # The identity pool wants an authenticated role; it is never handed out (Deny below), and
    # holds no permission in case it were.
    no_access = _role(ctx, ctx.name("identities-none"), trust, [])
    order = precedence(spec.roles)
    groups = {
        role.name: aws.cognito.UserGroup(
            ctx.name(f"group-{role.name}"),
            name=role.name,  # tradai.authz matches cognito:groups against the spec's names
            description=role.description,
            precedence=order[role.name],
            user_pool_id=pool.id,
            role_arn=roles[role.name].arn if role.name in roles else None,
        )
        for role in spec.roles
    }
    aws.cognito.IdentityPoolRoleAttachment(
        ctx.name("identities-roles"),
        identity_pool_id=identity_pool.id,
        roles={"authenticated": no_access.arn},
        role_mappings=[{
            "identity_provider": pulumi.Output.concat(provider, ":", client.id),
            "type": "Token",  # the group's role_arn (cognito:preferred_role)
            "ambiguous_role_resolution": "Deny",
        }],
    )
    return Groups(groups=groups, roles=roles, identity_pool=identity_pool)


def _direct_statements(ctx: Context, queues: Mapping[str, aws.sqs.Queue],
                       fault_templates: Mapping[str, aws.fis.ExperimentTemplate],
                       ) -> dict[str, list[Statement]]:
    sources: dict[str, list[str]] = {}
    for q in ctx.topo.queues:
        if q.dlq:
            sources.setdefault(q.dlq, []).append(q.name)
    # aws.fis.ExperimentTemplate exports no ARN; it is the template ID in this account.
    templates = [pulumi.Output.all(ctx.account_id, t.id).apply(
        lambda v: f"arn:aws:fis:{ctx.region}:{v[0]}:experiment-template/{v[1]}")
        for t in fault_templates.values()]
    return {
        DLQ_REPLAY: dlq_statements({n: q.arn for n, q in queues.items()}, sources),
        FAULTS_INJECT: fis_statements(templates, ctx.arn("fis", "experiment/*")),
    }


def _role(ctx: Context, name: str, trust: pulumi.Output[str],
          stmts: list[Statement]) -> aws.iam.Role:
    role = aws.iam.Role(name, name=name, assume_role_policy=trust, tags=ctx.tags)
    if stmts:
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy_document(stmts),
                           opts=pulumi.ResourceOptions(parent=role))
    return role
