"""Authorization on AWS (issue 18): one Cognito group per spec role, the operator's group
carrying an IAM role for what it does straight against AWS (DLQ replay, FIS experiments),
MLflow read-only through the HTTP API, and the backend's access to the registry audit.

AWS pages: https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-parameter-mapping.html (``overwrite:path``, ``append:header.<name>``,
``$request.path``), https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-routes.html ("Routing API requests": a full match of route and method wins
over a greedy path variable; ``ANY`` matches methods no route of the path defines),
https://docs.aws.amazon.com/cognito/latest/developerguide/role-based-access-control.html
(trust policy of a role handed out by an identity pool), https://docs.aws.amazon.com/
AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
(StartMessageMoveTask / CancelMessageMoveTask on the DLQ), https://docs.aws.amazon.com/
service-authorization/latest/reference/list_awsfaultinjectionservice.html.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT, Resource, run_program
from tradai.topology import Topology
from tradai.topology.model import Role

GROUP = "aws:cognito/userGroup:UserGroup"
ROLE = "aws:iam/role:Role"
ROUTE = "aws:apigatewayv2/route:Route"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
QUEUE = "aws:sqs/queue:Queue"
TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
REGION = "eu-central-1"


def _list(v: Any) -> list[Any]:
    return [v] if isinstance(v, str) else list(v)


def missing_groups(deployed: Deployed, groups: list[Resource]) -> list[str]:
    """Spec roles without a group of that name in the user pool."""
    pool = deployed.one("aws:cognito/userPool:UserPool",
                        deployed.name(deployed.topo.edge.user_pool))
    names = {g.inputs["name"] for g in groups if g.inputs["userPoolId"] == pool.id}
    return [r.name for r in deployed.topo.edge.roles if r.name not in names]


def _role_named(deployed: Deployed, name: str) -> Resource:
    [role] = [r for r in deployed.of_type(ROLE) if r.inputs.get("name") == name]
    return role


def _dlqs(topo: Topology) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for q in topo.queues:
        if q.dlq:
            out.setdefault(q.dlq, []).append(q.name)
    return out


# -- groups ----------------------------------------------------------------------------------


def test_one_group_per_spec_role_with_its_description_and_precedence(deployed: Deployed):
    groups = deployed.of_type(GROUP)
    assert missing_groups(deployed, groups) == []
    roles = deployed.topo.edge.roles
    assert sorted(g.inputs["name"] for g in groups) == sorted(r.name for r in roles)
    by_name = {g.inputs["name"]: g for g in groups}
    for r in roles:
        assert by_name[r.name].inputs["description"] == r.description
    # Spec order is least to most privileged: operator decides, viewer last.
    assert {n: g.inputs["precedence"] for n, g in by_name.items()} == {
        "operator": 0, "trader": 1, "researcher": 2, "viewer": 3}


def test_the_group_check_fails_when_a_spec_role_lacks_its_group(deployed: Deployed):
    groups = [g for g in deployed.of_type(GROUP) if g.inputs["name"] != "trader"]
    assert missing_groups(deployed, groups) == ["trader"]


def test_a_new_spec_role_gets_its_group_and_a_role_only_for_aws_permissions(
        topo: Topology, settings: Any):
    """Groups and their IAM roles follow the spec: a role that may inject faults gets an IAM
    role with the FIS statements only; one that only reads gets none."""
    from tradai_infra.program import deploy

    extra = [Role(name="auditor", description="reads", permissions=["read"]),
             Role(name="drills", description="runs drills", permissions=["read",
                                                                          "faults:inject"])]
    edge = topo.edge.model_copy(update={"roles": [*extra, *topo.edge.roles]})
    got = Deployed(run_program(lambda: deploy(settings, topo.model_copy(update={"edge": edge}))),
                   topo)
    by_name = {g.inputs["name"]: g for g in got.of_type(GROUP)}
    assert set(by_name) == {r.name for r in edge.roles}
    assert not by_name["auditor"].inputs.get("roleArn")
    drills = _role_named(got, got.name("drills"))
    assert by_name["drills"].inputs["roleArn"] == drills.arn
    actions = {a for s in got.role_policy(drills)["Statement"] for a in _list(s["Action"])}
    assert actions and all(a.startswith("fis:") for a in actions)


# -- the operator's AWS role ----------------------------------------------------------------


def test_only_the_operator_group_carries_a_role_and_it_is_the_operator_role(deployed: Deployed):
    operator = _role_named(deployed, deployed.name("operator"))
    carrying = {g.inputs["name"]: g.inputs["roleArn"] for g in deployed.of_type(GROUP)
                if g.inputs.get("roleArn")}
    assert carrying == {"operator": operator.arn}


def test_operator_role_is_assumable_only_through_the_identity_pool(deployed: Deployed):
    operator = _role_named(deployed, deployed.name("operator"))
    [pool] = deployed.of_type("aws:cognito/identityPool:IdentityPool")
    assert pool.inputs["allowUnauthenticatedIdentities"] is False
    [stmt] = json.loads(operator.inputs["assumeRolePolicy"])["Statement"]
    assert stmt["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Condition"] == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": pool.id},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}
    # Roles come from the token's group; a user of no group with a role gets no credentials,
    # and the pool's default authenticated role may do nothing.
    [attachment] = deployed.of_type("aws:cognito/identityPoolRoleAttachment:"
                                    "IdentityPoolRoleAttachment")
    [mapping] = attachment.inputs["roleMappings"]
    assert (mapping["type"], mapping["ambiguousRoleResolution"]) == ("Token", "Deny")
    default = _role_named(deployed, deployed.name("identities-none"))
    assert attachment.inputs["roles"] == {"authenticated": default.arn}
    assert not [r for r, _ in deployed.policies() if r.inputs["role"] == default.id]


def test_operator_policy_names_the_dlqs_and_the_experiment_templates(deployed: Deployed):
    operator = _role_named(deployed, deployed.name("operator"))
    stmts = deployed.role_policy(operator)["Statement"]
    dlqs = _dlqs(deployed.topo)
    assert dlqs, "the spec has dead-letter queues"
    dlq_arns = sorted(deployed.one(QUEUE, deployed.name(d)).arn for d in dlqs)
    source_arns = sorted(deployed.one(QUEUE, deployed.name(s)).arn
                         for sources in dlqs.values() for s in sources)

    def granting(action: str) -> list[dict[str, Any]]:
        return [s for s in stmts if action in _list(s["Action"])]

    for action in ("sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks",
                   "sqs:CancelMessageMoveTask", "sqs:ReceiveMessage", "sqs:DeleteMessage"):
        [stmt] = granting(action)
        assert sorted(_list(stmt["Resource"])) == dlq_arns, action
    # A replay moves messages back to the queues that dead-lettered them, and only there.
    [send] = granting("sqs:SendMessage")
    assert sorted(_list(send["Resource"])) == source_arns

    templates = deployed.of_type(TEMPLATE)
    assert templates
    template_arns = sorted(f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment-template/{t.id}"
                           for t in templates)
    experiments = f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment/*"
    [on_templates] = [s for s in granting("fis:StartExperiment")
                      if experiments not in _list(s["Resource"])]
    assert sorted(_list(on_templates["Resource"])) == template_arns
    for action in ("fis:StopExperiment", "fis:GetExperiment"):
        [stmt] = granting(action)
        assert _list(stmt["Resource"]) == [experiments], action
    # "*" only where FIS offers no resource (the List calls), nothing else on it.
    for stmt in stmts:
        if "*" in _list(stmt["Resource"]):
            assert set(_list(stmt["Action"])) == {"fis:ListExperiments",
                                                  "fis:ListExperimentTemplates"}, stmt
        assert not any(a.endswith("*") for a in _list(stmt["Action"])), stmt
    services = {a.split(":")[0] for s in stmts for a in _list(s["Action"])}
    assert services == {"sqs", "fis"}


# -- MLflow read-only through the gateway ----------------------------------------------------


def test_mlflow_routes_are_reads_and_a_refusing_any(deployed: Deployed):
    posts = deployed.topo.edge.mlflow_read_only_posts
    routes = {r.inputs["routeKey"]: r for r in deployed.of_type(ROUTE)
              if " /mlflow" in r.inputs["routeKey"]}
    assert sorted(routes) == sorted(["GET /mlflow/{proxy+}", "ANY /mlflow/{proxy+}",
                                     *(f"POST /mlflow{p}" for p in posts)])
    alb = deployed.where(INTEGRATION, integrationType="HTTP_PROXY", connectionType="VPC_LINK")
    [plain] = [i for i in alb if i.inputs["requestParameters"] == {
        "overwrite:header.x-tradai-client": "$context.identity.sourceIp"}]
    [refusing] = [i for i in alb if "overwrite:path" in i.inputs["requestParameters"]]
    # Both reach the same ALB listener over the same VPC link.
    for key in ("integrationUri", "connectionId", "integrationMethod"):
        assert refusing.inputs[key] == plain.inputs[key], key
    assert refusing.inputs["requestParameters"] == {
        "overwrite:path": "/api/v1/mlflow-writes",
        "append:header.x-tradai-mlflow-path": "$request.path",
        "overwrite:header.x-tradai-client": "$context.authorizer.claims.sub"}
    for key, route in routes.items():
        want = refusing if key == "ANY /mlflow/{proxy+}" else plain
        assert route.inputs["target"] == f"integrations/{want.id}", key
        # MLflow's own basic auth for reads; the refused writes keep the JWT authorizer.
        assert route.inputs["authorizationType"] == (
            "JWT" if key == "ANY /mlflow/{proxy+}" else "NONE"), key


def test_the_refusal_path_is_a_backend_route_on_the_alb(deployed: Deployed):
    """The re-pathed request must land on the backend: the ALB forwards /api/v1/* there."""
    rules = deployed.of_type("aws:lb/listenerRule:ListenerRule")
    backend_tg = deployed.one("aws:lb/targetGroup:TargetGroup", deployed.name("tg-backend-api"))
    patterns = {v for r in rules if r.inputs["actions"][0]["targetGroupArn"] == backend_tg.arn
                for v in r.inputs["conditions"][0]["pathPattern"]["values"]}
    assert "/api/v1/*" in patterns


# -- the backend: registry audit and strategy service ---------------------------------------


def test_backend_reads_and_writes_the_registry_audit(deployed: Deployed):
    role = _role_named(deployed, deployed.name("backend-api-task"))
    stmts = deployed.role_policy(role)["Statement"]
    table = deployed.one("aws:dynamodb/table:Table", deployed.name("registry-audit"))
    for action in ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"):
        assert any(table.arn in _list(s["Resource"]) for s in stmts
                   if action in _list(s["Action"])), action


def test_backend_is_told_the_audit_table_and_the_strategy_service(deployed: Deployed):
    [td] = deployed.where("aws:ecs/taskDefinition:TaskDefinition",
                          family=deployed.name("backend-api"))
    [container] = json.loads(td.inputs["containerDefinitions"])
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["TRADAI_TABLE_REGISTRY_AUDIT"] == deployed.name("registry-audit")
    port = deployed.topo.service("strategy-service").port
    assert env["TRADAI_STRATEGY_SERVICE_URL"] == \
        f"http://strategy-service.{deployed.topo.project}-dev.local:{port}"
    # The Cloud Map service that name resolves through exists in the namespace.
    namespace = deployed.one("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
                             deployed.name("namespace"))
    assert namespace.inputs["name"] == f"{deployed.topo.project}-dev.local"
    deployed.one("aws:servicediscovery/service:Service",
                 deployed.name("strategy-service-discovery"))
