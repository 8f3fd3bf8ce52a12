"""Issue 16 item 2: a function whose policy lacks a permission it uses gets AccessDenied from
the local cloud, as it would on AWS.

The stack's orphan-scanner first queries the workflow-state table's status index; its role's
inline policy (``tradai-access``, from the spec) is rewritten without ``dynamodb:Query`` on
that table, the cloud switched to ``enforce`` (``POST /_sim/iam``), and the function invoked.
Afterwards the policy and the mode are put back and the same invocation succeeds, so the
denial was that one permission.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.cloud import RunningCloud


def _without_query_on(policy: dict[str, Any], table_arn: str) -> dict[str, Any]:
    out = json.loads(json.dumps(policy))
    for st in out["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        if table_arn in resources:
            st["Action"] = [a for a in actions if a != "dynamodb:Query"] or ["dynamodb:GetItem"]
    return out


def _invoke(cloud: RunningCloud, function: str) -> tuple[str | None, dict[str, Any]]:
    resp = cloud.client("lambda").invoke(FunctionName=function, Payload=b"{}")
    return resp.get("FunctionError"), json.loads(resp["Payload"].read() or b"{}")


def test_a_function_whose_policy_lacks_a_permission_it_uses_gets_access_denied(
        cloud: RunningCloud) -> None:
    iam = cloud.client("iam")
    function = cloud.name("orphan-scanner")
    role = f"{function}-fn"
    table = (f"arn:aws:dynamodb:{cloud.region}:123456789012:table/"
             f"{cloud.name('workflow-state')}")
    original = iam.get_role_policy(RoleName=role, PolicyName="tradai-access")["PolicyDocument"]
    assert any("dynamodb:Query" in st["Action"] for st in original["Statement"]
               if table in st["Resource"]), "the spec's policy grants the query it makes"
    before = cloud.control("/iam")["mode"]
    iam.put_role_policy(RoleName=role, PolicyName="tradai-access",
                        PolicyDocument=json.dumps(_without_query_on(original, table)))
    try:
        cloud.control("/iam", {"mode": "enforce", "clear": True})
        error, payload = _invoke(cloud, function)
        assert error == "Unhandled", payload
        text = f"{payload.get('errorType')} {payload.get('errorMessage')}"
        assert "AccessDeniedException" in text, text
        assert (f"assumed-role/{role}/" in text and "is not authorized to perform: "
                f"dynamodb:Query on resource: {table}/index/" in text), text
        denials = cloud.control("/iam")["denials"]
        assert any(d["role"] == role and d["action"] == "dynamodb:Query" and d["enforced"]
                   for d in denials), denials
    finally:
        iam.put_role_policy(RoleName=role, PolicyName="tradai-access",
                            PolicyDocument=json.dumps(original))
    try:
        error, payload = _invoke(cloud, function)  # still enforcing, the grant back
        assert error is None, payload
    finally:
        cloud.control("/iam", {"mode": before})
