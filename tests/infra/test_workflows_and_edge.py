"""State machines deploy the ASL the local cloud runs; the edge matches the spec."""

from __future__ import annotations

import json

from tests.infra.conftest import Deployed
from tradai.workflows.render import load_asl, placeholders, render_asl

SFN = "aws:sfn/stateMachine:StateMachine"


def _expected_values(deployed: Deployed) -> dict:
    """Placeholder values computed independently from the recorded resources."""
    values: dict = {
        f"Lambda:{f.name}": deployed.one("aws:lambda/function:Function",
                                         deployed.name(f.name)).arn
        for f in deployed.lambdas
    }
    for td in deployed.topo.task_definitions:
        values[f"TaskDefinition:{td.name}"] = deployed.one(
            "aws:ecs/taskDefinition:TaskDefinition", deployed.name(td.name)).arn
    values["Cluster"] = deployed.one("aws:ecs/cluster:Cluster",
                                     deployed.name(deployed.topo.cluster)).arn
    values["PrivateSubnets"] = [
        deployed.one("aws:ec2/subnet:Subnet", deployed.name(f"private-{az.name}")).id
        for az in deployed.topo.network.azs
    ]
    values["StrategySecurityGroups"] = [
        deployed.one("aws:ec2/securityGroup:SecurityGroup", deployed.name("sg-tasks")).id
    ]
    return values


def test_deployed_asl_equals_render_of_the_local_file(deployed: Deployed):
    values = _expected_values(deployed)
    assert len(deployed.of_type(SFN)) == len(deployed.state_machines) >= 1
    for spec in deployed.state_machines:
        machine = deployed.one(SFN, deployed.name(spec.name))
        expected = json.loads(render_asl(load_asl(spec.asl), values))
        assert json.loads(machine.inputs["definition"]) == expected, spec.name
        assert machine.inputs["type"] == "STANDARD"


def test_state_machine_role_invokes_exactly_its_lambdas(deployed: Deployed):
    roles = deployed.of_type("aws:iam/role:Role")
    for spec in deployed.state_machines:
        machine = deployed.one(SFN, deployed.name(spec.name))
        [role] = [r for r in roles if f"arn:aws:mock:aws:iam/role:Role/{r.name}"
                  == machine.inputs["roleArn"]]
        assert "states.amazonaws.com" in role.inputs["assumeRolePolicy"]
        doc = deployed.role_policy(role)
        invoke = [s for s in doc["Statement"] if s["Action"] == ["lambda:InvokeFunction"]]
        used = sorted(k.split(":", 1)[1] for k in placeholders(load_asl(spec.asl))
                      if k.startswith("Lambda:"))
        arns = [deployed.one("aws:lambda/function:Function", deployed.name(n)).arn for n in used]
        assert [s["Resource"] for s in invoke] == [arns]
        actions = {a for s in doc["Statement"] for a in s["Action"]}
        assert {"ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "events:PutRule",
                "events:PutTargets", "events:DescribeRule", "iam:PassRole"} <= actions


def test_backtest_submission_goes_through_the_backend(deployed: Deployed):
    """Submission is validated and recorded by the backend before it is queued (README,
    "Architecture notes"): the route uses the ALB integration, and the API holds no role that
    could put messages on the queue."""
    [submit] = [r for r in deployed.topo.edge.routes
                if (r.method, r.path) == ("POST", "/api/v1/backtests")]
    assert (submit.target, submit.service) == ("service", "backend-api")
    [alb] = _alb_integration(deployed)
    [route] = deployed.where("aws:apigatewayv2/route:Route",
                             routeKey="POST /api/v1/backtests")
    assert route.inputs["target"] == f"integrations/{alb.id}"
    assert deployed.where("aws:apigatewayv2/integration:Integration",
                          integrationSubtype="SQS-SendMessage") == []


SOURCE_IP = "$context.identity.sourceIp"


def _alb_integration(deployed: Deployed) -> list:
    """The ALB integration that passes requests as they are, with the JWT subject (the others:
    MLflow's reads, keyed by source IP, and its writes, re-pathed: test_authorization.py)."""
    return [i for i in deployed.where("aws:apigatewayv2/integration:Integration",
                                      integrationType="HTTP_PROXY", connectionType="VPC_LINK")
            if "overwrite:path" not in (i.inputs.get("requestParameters") or {})
            and SOURCE_IP not in (i.inputs.get("requestParameters") or {}).values()]


def _mlflow_reads_integration(deployed: Deployed) -> list:
    return [i for i in deployed.where("aws:apigatewayv2/integration:Integration",
                                      integrationType="HTTP_PROXY", connectionType="VPC_LINK")
            if SOURCE_IP in (i.inputs.get("requestParameters") or {}).values()]


def _mlflow_writes_integration(deployed: Deployed) -> list:
    return [i for i in deployed.where("aws:apigatewayv2/integration:Integration",
                                      integrationType="HTTP_PROXY", connectionType="VPC_LINK")
            if "overwrite:path" in (i.inputs.get("requestParameters") or {})]


def test_every_route_but_mlflow_reads_requires_the_cognito_jwt(deployed: Deployed):
    """MLflow's reads go to MLflow's own basic auth (a token in Authorization would take the
    place of the MLflow login); every other route, MLflow's refused writes included, needs the
    Cognito JWT."""
    routes = deployed.of_type("aws:apigatewayv2/route:Route")
    posts = [f"POST /mlflow{p}" for p in deployed.topo.edge.mlflow_read_only_posts]
    assert sorted(r.inputs["routeKey"] for r in routes) == sorted(
        ["POST /api/v1/backtests", "ANY /api/v1/{proxy+}", "ANY /mlflow/{proxy+}",
         "GET /mlflow/{proxy+}", *posts])
    [authorizer] = deployed.of_type("aws:apigatewayv2/authorizer:Authorizer")
    pool = deployed.one("aws:cognito/userPool:UserPool",
                        deployed.name(deployed.topo.edge.user_pool))
    client = deployed.one("aws:cognito/userPoolClient:UserPoolClient",
                          deployed.name(deployed.topo.edge.app_client))
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["jwtConfiguration"] == {
        "audiences": [client.id],
        "issuer": f"https://cognito-idp.eu-central-1.amazonaws.com/{pool.id}",
    }
    mlflow_reads = {"GET /mlflow/{proxy+}", *posts}
    for route in routes:
        if route.inputs["routeKey"] in mlflow_reads:
            assert route.inputs["authorizationType"] == "NONE", route.inputs["routeKey"]
            assert route.inputs.get("authorizerId") is None
        else:
            assert route.inputs["authorizationType"] == "JWT"
            assert route.inputs["authorizerId"] == authorizer.id
    alb_routes = [r for r in routes if r.inputs["routeKey"] != "ANY /mlflow/{proxy+}"
                  and r.inputs["routeKey"] not in mlflow_reads]
    [alb_integration] = _alb_integration(deployed)
    assert {r.inputs["target"] for r in alb_routes} == {f"integrations/{alb_integration.id}"}
    [reads] = _mlflow_reads_integration(deployed)
    assert {r.inputs["target"] for r in routes if r.inputs["routeKey"] in mlflow_reads} == \
        {f"integrations/{reads.id}"}


def test_rate_limit_is_the_spec_window_per_client(deployed: Deployed):
    """The documented limit (spec: 100 per 300 s) per client, as the local gateway applies it
    (keyed on the token's subject), not for everyone together."""
    from tradai_infra.edge import CLIENT_HEADER

    rate = deployed.topo.edge.rate_limit
    [acl] = deployed.of_type("aws:wafv2/webAcl:WebAcl")
    [rule] = acl.inputs["rules"]
    statement = rule["statement"]["rateBasedStatement"]
    assert (statement["limit"], statement["evaluationWindowSec"]) == \
        (rate.requests, rate.per_seconds) == (100, 300)
    assert "block" in rule["action"]
    # Counted per value of the header that API Gateway overwrites with the JWT subject on
    # every integration that reaches the ALB (a client cannot set it itself).
    assert statement["aggregateKeyType"] == "CUSTOM_KEYS"
    assert [k["header"]["name"] for k in statement["customKeys"]] == [CLIENT_HEADER]
    for integration in _alb_integration(deployed) + _mlflow_writes_integration(deployed):
        assert integration.inputs["requestParameters"][f"overwrite:header.{CLIENT_HEADER}"] \
            == "$context.authorizer.claims.sub", integration.name
    # MLflow's reads carry no token: counted per source address instead.
    for integration in _mlflow_reads_integration(deployed):
        assert integration.inputs["requestParameters"] == {
            f"overwrite:header.{CLIENT_HEADER}": SOURCE_IP}
    [assoc] = deployed.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert assoc.inputs["resourceArn"] == deployed.of_type(
        "aws:lb/loadBalancer:LoadBalancer")[0].arn


def test_no_stage_throttle_caps_every_client_together(deployed: Deployed):
    """Stage/route throttling of an HTTP API counts all callers together: the spec's
    per-client window as a stage throttle caps everyone at 100/300 s = 0.33 req/s."""
    rate = deployed.topo.edge.rate_limit
    [stage] = deployed.of_type("aws:apigatewayv2/stage:Stage")
    settings = [stage.inputs.get("defaultRouteSettings") or {},
                *(stage.inputs.get("routeSettings") or [])]
    for throttle in settings:
        limit = throttle.get("throttlingRateLimit")
        burst = throttle.get("throttlingBurstLimit")
        # Anything a few clients at the per-client rate would exhaust is a shared cap.
        assert limit is None or limit >= 1000 * rate.requests / rate.per_seconds, throttle
        assert burst is None or burst >= 10 * rate.requests, throttle



def test_target_groups_and_grace_period_come_from_the_shared_load_balancing_settings(
        deployed: Deployed):
    """The deployed target groups and ECS grace period are the values the local cloud uses
    (platform/tradai/topology/load_balancing.py), so the two cannot drift."""
    from tradai.topology import load_balancing as lb

    groups = deployed.of_type("aws:lb/targetGroup:TargetGroup")
    assert len(groups) == sum(1 for s in deployed.topo.services if s.load_balanced)
    for g in groups:
        assert g.inputs["deregistrationDelay"] == lb.DEREGISTRATION_DELAY_SECONDS
        hc = g.inputs["healthCheck"]
        assert (hc["interval"], hc["timeout"], hc["healthyThreshold"],
                hc["unhealthyThreshold"], hc["matcher"]) == (
            lb.HEALTH_CHECK_INTERVAL_SECONDS, lb.HEALTH_CHECK_TIMEOUT_SECONDS,
            lb.HEALTHY_THRESHOLD, lb.UNHEALTHY_THRESHOLD, lb.HEALTH_CHECK_MATCHER)
    balanced = [r for r in deployed.of_type("aws:ecs/service:Service")
                if r.inputs.get("loadBalancers")]
    assert len(balanced) == len(groups)
    assert {r.inputs["healthCheckGracePeriodSeconds"] for r in balanced} == {
        lb.HEALTH_CHECK_GRACE_PERIOD_SECONDS}
