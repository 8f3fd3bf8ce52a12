"""What the Pulumi program grants for trading (issue 11): the backend API may create and stop
session services in the cluster (and nothing else in ECS), register their task definitions,
pass only the strategy task's roles to ECS tasks, read the exchange keys and write the
session table; the cluster offers FARGATE and FARGATE_SPOT; the two monitors may publish
alerts and put their metrics; health-check knows each service's Cloud Map URL.

AWS pages: https://docs.aws.amazon.com/service-authorization/latest/reference/
list_amazonelasticcontainerservice.html (which ECS actions take resource-level permissions),
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
(iam:PassedToService), https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
iam-cw-condition-keys-namespace.html (cloudwatch:namespace), https://docs.aws.amazon.com/
AmazonECS/latest/developerguide/fargate-capacity-providers.html (cluster capacity providers).
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT

ROLE = "aws:iam/role:Role"
REGION = "eu-central-1"


def _policy(deployed: Deployed, role_name: str) -> list[dict[str, Any]]:
    [role] = [r for r in deployed.of_type(ROLE) if r.inputs.get("name") == role_name]
    return list(deployed.role_policy(role)["Statement"])


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in s["Action"]]


def _list(v: Any) -> list[Any]:
    return [v] if isinstance(v, str) else list(v)


def test_backend_manages_only_session_services_in_the_cluster(deployed: Deployed) -> None:
    stmts = _policy(deployed, deployed.name("backend-api-task"))
    cluster = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{deployed.name('strategies')}"
    services = (f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{deployed.name('strategies')}/"
                f"{deployed.name('session-')}*")
    for action in ("ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
                   "ecs:DescribeServices"):
        [stmt] = _granting(stmts, action)
        assert _list(stmt["Resource"]) == [services], action
        assert stmt["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    for action in ("ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition",
                   "ecs:DescribeTaskDefinition"):
        [stmt] = _granting(stmts, action)
        # AWS offers no resource-level permissions for these: the statement holds only them.
        assert _list(stmt["Resource"]) == ["*"]
        assert set(stmt["Action"]) == {"ecs:RegisterTaskDefinition",
                                       "ecs:DeregisterTaskDefinition",
                                       "ecs:DescribeTaskDefinition"}
    every_ecs = {a for s in stmts for a in s["Action"] if a.startswith("ecs:")}
    # + finding and stopping a cancelled backtest's task (tests/infra/test_backtest_cancel.py)
    assert every_ecs == {"ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService",
                         "ecs:DescribeServices", "ecs:RegisterTaskDefinition",
                         "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition",
                         "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"}
    assert not any(a in ("ecs:*", "*") for s in stmts for a in s["Action"])


def test_backend_passes_only_the_strategy_roles_to_ecs_tasks(deployed: Deployed) -> None:
    stmts = _policy(deployed, deployed.name("backend-api-task"))
    [stmt] = _granting(stmts, "iam:PassRole")
    assert sorted(_list(stmt["Resource"])) == sorted([
        f"arn:aws:iam::{ACCOUNT}:role/{deployed.name('strategy-task')}",
        f"arn:aws:iam::{ACCOUNT}:role/{deployed.name('ecs-execution')}"])
    assert stmt["Condition"] == {"StringEquals": {
        "iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_backend_reads_the_exchange_keys_and_writes_the_session_table(
        deployed: Deployed) -> None:
    stmts = _policy(deployed, deployed.name("backend-api-task"))
    secret = deployed.one("aws:secretsmanager/secret:Secret",
                          deployed.name("exchange-credentials"))
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"):
        assert any(secret.arn in _list(s["Resource"]) for s in _granting(stmts, action)), action
    assert not any("*" in _list(s["Resource"]) for s in stmts
                   if any(a.startswith("secretsmanager:") for a in s["Action"]))
    table = deployed.one("aws:dynamodb/table:Table", deployed.name("trading-heartbeats"))
    for action in ("dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PutItem",
                   "dynamodb:UpdateItem", "dynamodb:DeleteItem"):
        assert any(table.arn in _list(s["Resource"]) for s in _granting(stmts, action)), action


def _container_env(deployed: Deployed, family: str) -> dict[str, Any]:
    [td] = deployed.where("aws:ecs/taskDefinition:TaskDefinition", family=family)
    [container] = json.loads(td.inputs["containerDefinitions"])
    return {e["name"]: e["value"] for e in container["environment"]}


def test_backend_is_told_where_sessions_run(deployed: Deployed) -> None:
    env = _container_env(deployed, deployed.name("backend-api"))
    subnets = [s.id for s in deployed.of_type("aws:ec2/subnet:Subnet")
               if s.inputs["tags"]["tier"] == "private"]
    assert sorted(json.loads(env["TRADAI_PRIVATE_SUBNETS"])) == sorted(subnets)
    tasks_sg = deployed.one("aws:ec2/securityGroup:SecurityGroup", deployed.name("sg-tasks"))
    assert json.loads(env["TRADAI_STRATEGY_SECURITY_GROUPS"]) == [tasks_sg.id]
    assert env["TRADAI_CLUSTER"] == deployed.name("strategies")
    assert env["TRADAI_TABLE_TRADING_HEARTBEATS"] == deployed.name("trading-heartbeats")
    assert env["TRADAI_SECRET_EXCHANGE_CREDENTIALS"] == deployed.name("exchange-credentials")
    assert env["TRADAI_ENV"] == "dev" and env["TRADAI_PROJECT"] == deployed.topo.project


def test_cluster_offers_fargate_and_spot(deployed: Deployed) -> None:
    [cp] = deployed.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert sorted(cp.inputs["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


def _lambda_policy(deployed: Deployed, name: str) -> list[dict[str, Any]]:
    return _policy(deployed, deployed.name(f"{name}-fn"))


def test_monitors_publish_alerts_and_put_their_metrics_only(deployed: Deployed) -> None:
    alerts = deployed.one("aws:sns/topic:Topic", deployed.name("alerts"))
    table = deployed.one("aws:dynamodb/table:Table", deployed.name("trading-heartbeats"))
    for fn, namespace in (("trading-heartbeat-check", "TradAI/Trading"),
                          ("health-check", "TradAI/Health")):
        stmts = _lambda_policy(deployed, fn)
        [publish] = _granting(stmts, "sns:Publish")
        assert _list(publish["Resource"]) == [alerts.arn], fn
        [metrics] = _granting(stmts, "cloudwatch:PutMetricData")
        assert set(metrics["Action"]) == {"cloudwatch:PutMetricData"}
        assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": [namespace]}}
    stmts = _lambda_policy(deployed, "trading-heartbeat-check")
    for action in ("dynamodb:Scan", "dynamodb:UpdateItem"):
        [stmt] = _granting(stmts, action)
        assert table.arn in _list(stmt["Resource"]), action


def test_health_check_knows_each_service_url(deployed: Deployed) -> None:
    fn = deployed.one("aws:lambda/function:Function", deployed.name("health-check"))
    env = fn.inputs["environment"]["variables"]
    from tradai.health.discovery import env_name

    for svc in deployed.topo.services:
        # The name tradai.health.discovery reads; MLflow serves under its route's prefix
        # (mlflow_access.py).
        prefix = "/mlflow" if svc.name == "mlflow" else ""
        assert env[env_name(svc.name)] == \
            f"http://{svc.name}.{deployed.topo.project}-dev.local:{svc.port}{prefix}"
    [ns] = deployed.of_type("aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace")
    assert ns.inputs["name"] == f"{deployed.topo.project}-dev.local"
