"""The local cloud's IAM policy evaluator against AWS's evaluation logic and condition operators:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

from typing import Any

import pytest

from tradai_sim.cloud.iam_enforcement.evaluator import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    evaluate,
    parse_policy,
    wildcard_match,
)

TABLE = "arn:aws:dynamodb:eu-central-1:123456789012:table/tradai-local-workflow-state"
CLUSTER = "arn:aws:ecs:eu-central-1:123456789012:cluster/tradai-local"


def policy(*statements: dict[str, Any]) -> Any:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def outcome(statements: Any, action: str, resource: str,
            context: dict[str, tuple[str, ...] | None] | None = None) -> str:
    return evaluate(statements, action, resource, context or {}).outcome


def test_allow_when_a_statement_matches_action_and_resource() -> None:
    assert outcome(policy(allow("dynamodb:GetItem", TABLE)), "dynamodb:GetItem", TABLE) == ALLOW


def test_implicit_deny_when_nothing_allows() -> None:
    st = policy(allow("dynamodb:GetItem", TABLE))
    assert outcome(st, "dynamodb:PutItem", TABLE) == IMPLICIT_DENY
    assert outcome(st, "dynamodb:GetItem", TABLE + "-other") == IMPLICIT_DENY
    assert outcome((), "dynamodb:GetItem", TABLE) == IMPLICIT_DENY


def test_explicit_deny_wins_over_any_allow() -> None:
    st = policy(allow("dynamodb:*", "*"),
                {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE})
    assert outcome(st, "dynamodb:DeleteItem", TABLE) == EXPLICIT_DENY
    assert outcome(st, "dynamodb:PutItem", TABLE) == ALLOW


def test_wildcards_in_actions_are_case_insensitive_and_in_resources_case_sensitive() -> None:
    st = policy(allow("DynamoDB:Get*", "arn:aws:s3:::results/backtests/*"),
                allow("s3:GetObjec?", "arn:aws:s3:::configs/??/x"))
    assert outcome(st, "dynamodb:GetItem", "arn:aws:s3:::results/backtests/a/b") == ALLOW
    assert outcome(st, "dynamodb:GetItem", "arn:aws:s3:::results/Backtests/a") == IMPLICIT_DENY
    assert outcome(st, "s3:GetObject", "arn:aws:s3:::configs/ab/x") == ALLOW
    assert outcome(st, "s3:GetObject", "arn:aws:s3:::configs/abc/x") == IMPLICIT_DENY
    assert wildcard_match("a.b*", "a.bc") and not wildcard_match("a.b*", "axbc")


def test_not_action_and_not_resource() -> None:
    st = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::configs/*"})
    assert outcome(st, "sqs:SendMessage", "arn:q") == ALLOW
    assert outcome(st, "iam:PassRole", "arn:r") == IMPLICIT_DENY
    assert outcome(st, "s3:GetObject", "arn:aws:s3:::configs/a") == ALLOW
    assert outcome(st, "s3:GetObject", "arn:aws:s3:::results/a") == EXPLICIT_DENY


@pytest.mark.parametrize(("operator", "wanted", "got", "expected"), [
    ("StringEquals", "TradAI/Trading", ("TradAI/Trading",), ALLOW),
    ("StringEquals", "TradAI/Trading", ("TradAI/trading",), IMPLICIT_DENY),
    ("StringEquals", ["TradAI/Trading", "TradAI/Health"], ("TradAI/Health",), ALLOW),
    ("StringNotEquals", "TradAI/Trading", ("Other",), ALLOW),
    ("StringNotEquals", "TradAI/Trading", ("TradAI/Trading",), IMPLICIT_DENY),
    ("StringEqualsIgnoreCase", "tradai/trading", ("TradAI/Trading",), ALLOW),
    ("StringNotEqualsIgnoreCase", "tradai/trading", ("TradAI/Trading",), IMPLICIT_DENY),
    ("StringLike", "TradAI/*", ("TradAI/Trading",), ALLOW),
    ("StringLike", "TradAI/?", ("TradAI/Trading",), IMPLICIT_DENY),
    ("StringNotLike", "Other/*", ("TradAI/Trading",), ALLOW),
    ("ArnEquals", CLUSTER, (CLUSTER,), ALLOW),
    ("ArnEquals", CLUSTER, (CLUSTER + "-b",), IMPLICIT_DENY),
    ("ArnLike", "arn:aws:ecs:*:123456789012:cluster/tradai-*", (CLUSTER,), ALLOW),
    ("ArnLike", "arn:aws:ecs:*:999999999999:cluster/*", (CLUSTER,), IMPLICIT_DENY),
    ("ArnNotEquals", CLUSTER, (CLUSTER + "-b",), ALLOW),
    ("ArnNotLike", "arn:aws:ecs:*:*:cluster/tradai-*", (CLUSTER,), IMPLICIT_DENY),
    ("Bool", "true", ("True",), ALLOW),
    ("Bool", "true", ("false",), IMPLICIT_DENY),
])
def test_condition_operators(operator: str, wanted: Any, got: tuple[str, ...],
                             expected: str) -> None:
    st = policy(allow("cloudwatch:PutMetricData", "*",
                      Condition={operator: {"cloudwatch:namespace": wanted}}))
    assert outcome(st, "cloudwatch:PutMetricData", "*",
                   {"cloudwatch:namespace": got}) == expected


def test_a_key_absent_from_the_request_fails_positive_operators_and_passes_negated_ones() -> None:
    """'If the key that you specify in a policy condition is not present in the request
    context, the values do not match' -- except the negated operators, IfExists and Null."""
    absent: dict[str, tuple[str, ...] | None] = {"aws:resourcetag/name": None}

    def result(condition: dict[str, Any]) -> str:
        return outcome(policy(allow("ec2:ModifyInstanceAttribute", "*", Condition=condition)),
                       "ec2:ModifyInstanceAttribute", "arn:i", absent)

    assert result({"StringEquals": {"aws:ResourceTag/Name": "nat"}}) == IMPLICIT_DENY
    assert result({"StringNotEquals": {"aws:ResourceTag/Name": "nat"}}) == ALLOW
    assert result({"StringEqualsIfExists": {"aws:ResourceTag/Name": "nat"}}) == ALLOW
    assert result({"Null": {"aws:ResourceTag/Name": "true"}}) == ALLOW
    assert result({"Null": {"aws:ResourceTag/Name": "false"}}) == IMPLICIT_DENY


def test_operators_and_keys_and_together_values_or() -> None:
    cond = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
            "ArnLike": {"ecs:cluster": [CLUSTER, "arn:aws:ecs:*:*:cluster/other"]}}
    st = policy(allow("iam:PassRole", "*", Condition=cond))
    ok = {"iam:passedtoservice": ("ecs-tasks.amazonaws.com",), "ecs:cluster": (CLUSTER,)}
    assert outcome(st, "iam:PassRole", "arn:r", ok) == ALLOW
    assert outcome(st, "iam:PassRole", "arn:r",
                   {**ok, "iam:passedtoservice": ("lambda.amazonaws.com",)}) == IMPLICIT_DENY


def test_condition_key_names_are_case_insensitive() -> None:
    st = policy(allow("ecs:RunTask", "*", Condition={"ArnEquals": {"ECS:Cluster": CLUSTER}}))
    assert outcome(st, "ecs:RunTask", "arn:td", {"ecs:cluster": (CLUSTER,)}) == ALLOW


def test_for_any_and_for_all_values() -> None:
    any_of = policy(allow("s3:x", "*", Condition={"ForAnyValue:StringLike": {"k:tags": "a*"}}))
    all_of = policy(allow("s3:x", "*", Condition={"ForAllValues:StringEquals": {
        "k:tags": ["a", "b"]}}))
    assert outcome(any_of, "s3:x", "r", {"k:tags": ("zz", "ab")}) == ALLOW
    assert outcome(any_of, "s3:x", "r", {"k:tags": ("zz",)}) == IMPLICIT_DENY
    assert outcome(all_of, "s3:x", "r", {"k:tags": ("a", "b")}) == ALLOW
    assert outcome(all_of, "s3:x", "r", {"k:tags": ("a", "c")}) == IMPLICIT_DENY


def test_what_cannot_be_judged_is_reported_and_never_invents_a_denial() -> None:
    """A key the request context does not know: an Allow counts as met, a Deny as not met;
    the decision says what it could not judge."""
    st = policy(allow("sqs:SendMessage", "*", Condition={"StringEquals": {
        "aws:SourceVpce": "vpce-1"}}),
        {"Effect": "Deny", "Action": "sqs:*", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"sqs:delay": "5"}}})
    decision = evaluate(st, "sqs:SendMessage", "arn:q", {})
    assert decision.outcome == ALLOW
    assert decision.unjudged == {"condition key aws:SourceVpce", "condition key sqs:delay"}
    decision = evaluate(st, "sqs:SendMessage", "arn:q", {"sqs:delay": ("9",)})
    assert "condition operator NumericGreaterThan" in decision.unjudged
