"""Issue 16, items 6-8, under Pulumi's mocks: secrets get generated values that stay secret,
MLflow is reachable (its route, prefix, allowed hosts, security groups) and reads its database
login the way ECS hands it over, SNS topics use a key CloudWatch may use, bucket names are
unique per account and region, and a spec the program cannot honour stops it before any
resource is declared."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import pulumi
import pytest

from tests.infra.conftest import Deployed
from tests.infra.mocks import (
    ACCOUNT,
    RANDOM_PASSWORD,
    Resource,
    mock_password,
    run_program,
    secret_value,
)
from tests.infra.test_bad_input import _deploy_fails, _replace
from tradai.topology import Topology
from tradai.topology.flows import mlflow_client_functions as client_functions
from tradai_infra.errors import SpecMappingError
from tradai_infra.secret_values import FROM_STACK, LOGINS, OPERATOR, USERS

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TASK_DEF = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def _list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _container(deployed: Deployed, name: str) -> dict[str, Any]:
    [td] = deployed.where(TASK_DEF, family=deployed.name(name))
    [container] = json.loads(td.inputs["containerDefinitions"])
    return container


def _policy_of(deployed: Deployed, role_name: str) -> list[dict[str, Any]]:
    [role] = [r for r in deployed.of_type(ROLE) if r.inputs.get("name") == role_name]
    return deployed.role_policy(role)["Statement"]


def _secret(deployed: Deployed, logical: str) -> Resource:
    return deployed.one(SECRET, deployed.name(logical))


# -- item 6: secrets with values ----------------------------------------------------------


def test_generated_logins_are_secret_versions_of_random_passwords(deployed: Deployed):
    passwords = {r.name: r for r in deployed.of_type(RANDOM_PASSWORD)}
    for name, pw in passwords.items():
        assert pw.inputs["length"] >= 32 and pw.inputs["special"] is False, name
    for logical, username in LOGINS.items():
        [version] = deployed.where(VERSION, secretId=_secret(deployed, logical).id)
        # Recorded as a secret input: the value is encrypted in the state, [secret] in logs.
        value = json.loads(secret_value(version.inputs["secretString"]))
        assert value == {"username": username,
                         "password": mock_password(deployed.name(f"{logical}-password"))}
    for logical, users in USERS.items():
        [version] = deployed.where(VERSION, secretId=_secret(deployed, logical).id)
        value = json.loads(secret_value(version.inputs["secretString"]))
        assert value == {"users": {u: mock_password(deployed.name(f"{logical}-{u}-password"))
                                   for u in users}}
    # Every spec secret is generated, known to the stack, or the operator's (no value).
    assert {s.name for s in deployed.topo.secrets} == {*LOGINS, *USERS, *FROM_STACK, *OPERATOR}
    for logical in OPERATOR:
        assert deployed.where(VERSION, secretId=_secret(deployed, logical).id) == []
    client = deployed.one("aws:cognito/userPoolClient:UserPoolClient",
                          deployed.name(deployed.topo.edge.app_client))
    [version] = deployed.where(VERSION, secretId=_secret(deployed, "gateway-client").id)
    assert json.loads(secret_value(version.inputs["secretString"])) == {"client_id": client.id}


@dataclasses.dataclass
class Run:
    resources: list[Resource]
    exports: dict[str, Any]
    warnings: list[str]


@pytest.fixture(scope="module")
def run(topo: Topology, settings: Any) -> Run:
    from tradai_infra.program import deploy

    exports: dict[str, Any] = {}
    warnings: list[str] = []
    export, warn = pulumi.export, pulumi.log.warn

    def record_export(name: str, value: Any) -> None:
        pulumi.Output.from_input(value).apply(lambda v: exports.__setitem__(name, v))
        export(name, value)

    def record_warn(msg: str, *args: Any, **kwargs: Any) -> None:
        warnings.append(msg)
        warn(msg, *args, **kwargs)

    with patch.object(pulumi, "export", record_export), \
            patch.object(pulumi.log, "warn", record_warn):
        mocks = run_program(lambda: deploy(settings, topo))
    return Run(mocks.resources, exports, warnings)


def test_every_generated_value_the_program_hands_on_is_secret(topo: Topology, settings: Any):
    """The RandomPassword results as the program uses them (secret versions, the RDS password)
    are secret outputs (the mocks do not apply pulumi-random's own additional_secret_outputs,
    so this shows the program's wrapping)."""
    import asyncio

    from tradai_infra import storage
    from tradai_infra.program import deploy

    seen: dict[str, bool] = {}
    build = storage.build_secret_values

    def recording(ctx: Any, secrets: Any) -> Any:
        values = build(ctx, secrets)

        async def check() -> None:
            for key in values.passwords:
                seen[key] = await values.password(key).is_secret()
            seen["database"] = await values.database_password.is_secret()

        # Awaited before the program ends: a resource input depends on it.
        done = pulumi.Output.from_input(asyncio.ensure_future(check()))
        pulumi.Output.all(done).apply(lambda _: None)
        return values

    with patch.object(storage, "build_secret_values", recording):
        run_program(lambda: deploy(settings, topo))
    assert seen and all(seen.values()), seen
    assert len(seen) == len(LOGINS) + sum(len(u) for u in USERS.values()) + 1


def test_no_stack_output_or_log_line_holds_a_generated_value(run: Run):
    passwords = [mock_password(r.name) for r in run.resources if r.typ == RANDOM_PASSWORD]
    assert len(passwords) == len(LOGINS) + sum(len(u) for u in USERS.values())
    assert run.exports, "no stack output recorded"
    text = json.dumps(run.exports, default=str) + "\n".join(run.warnings)
    for pw in passwords:
        assert pw not in text
    # What the operator still has to put is said, with the command.
    [said] = [w for w in run.warnings if "put by the operator" in w]
    for logical in OPERATOR:
        assert f"put-secret-value --secret-id tradai-dev-{logical}" in said


def test_rds_master_password_is_the_generated_secret_not_an_rds_managed_one(
        deployed: Deployed):
    [db] = deployed.of_type("aws:rds/instance:Instance")
    assert not db.inputs.get("manageMasterUserPassword")
    assert db.inputs["username"] == LOGINS[deployed.topo.database.secret]
    assert secret_value(db.inputs["password"]) == \
        mock_password(deployed.name(f"{deployed.topo.database.secret}-password"))


def test_mlflow_gets_its_database_login_through_ecs_secrets_read_by_the_execution_role(
        deployed: Deployed, monkeypatch: pytest.MonkeyPatch):
    from tradai.services.mlflow_server.command import backend_store_uri, server_argv
    from tradai.services.mlflow_server.settings import MlflowServerSettings

    db_secret = _secret(deployed, deployed.topo.database.secret)
    container = _container(deployed, "mlflow")
    assert container["secrets"] == [
        {"name": "TRADAI_MLFLOW_DB_USERNAME", "valueFrom": f"{db_secret.arn}:username::"},
        {"name": "TRADAI_MLFLOW_DB_PASSWORD", "valueFrom": f"{db_secret.arn}:password::"}]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert "TRADAI_MLFLOW_DATABASE_SECRET" not in env
    # The execution role reads exactly the injected secrets (this one and the strategy's
    # MLflow login); no task role reads it.
    execution = _policy_of(deployed, deployed.name("ecs-execution"))
    [read] = [s for s in execution if "secretsmanager:GetSecretValue" in _list(s["Action"])]
    assert sorted(_list(read["Resource"])) == sorted(
        [db_secret.arn, _secret(deployed, "mlflow-runner").arn])
    for td in deployed.of_type(TASK_DEF):
        [role] = [r for r in deployed.of_type(ROLE) if r.arn == td.inputs["taskRoleArn"]]
        for stmt in deployed.role_policy(role)["Statement"]:
            assert db_secret.arn not in _list(stmt["Resource"]), td.name
    # What ECS puts in the container, read by the MLflow service: PostgreSQL on RDS with the
    # generated login, served under the prefix.
    [db] = deployed.of_type("aws:rds/instance:Instance")
    password = secret_value(db.inputs["password"])
    for key in ("MLFLOW_BACKEND_STORE_URI", "TRADAI_MLFLOW_DATABASE_SECRET"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**env, "TRADAI_MLFLOW_DB_USERNAME": db.inputs["username"],
                       "TRADAI_MLFLOW_DB_PASSWORD": password}.items():
        monkeypatch.setenv(key, value)
    settings = MlflowServerSettings()
    uri = backend_store_uri(settings, read_secret=lambda s: pytest.fail(f"read {s}"))
    assert uri == f"postgresql://mlflow:{password}@{db.name}.db.mock:5432/mlflow"
    argv = server_argv(settings, uri)
    assert argv[argv.index("--static-prefix") + 1] == "/mlflow"
    assert password not in " ".join(argv)


def test_strategy_tasks_get_their_mlflow_login_from_ecs_not_their_task_role(
        deployed: Deployed):
    """The runner login reaches the container as the MLflow client's variables, read by the
    execution role: the task role (what strategy code holds) reads no MLflow secret."""
    runner = _secret(deployed, "mlflow-runner")
    container = _container(deployed, "strategy")
    assert container["secrets"] == [
        {"name": "MLFLOW_TRACKING_USERNAME", "valueFrom": f"{runner.arn}:username::"},
        {"name": "MLFLOW_TRACKING_PASSWORD", "valueFrom": f"{runner.arn}:password::"}]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert "TRADAI_MLFLOW_AUTH_SECRET" not in env
    mlflow_secrets = {_secret(deployed, n).arn for n in
                      ("mlflow-basic-auth", "mlflow-users", "mlflow-runner")}
    for stmt in _policy_of(deployed, deployed.name("strategy-task")):
        assert not mlflow_secrets & set(_list(stmt["Resource"])), stmt


def test_services_read_their_mlflow_logins_with_their_task_roles(deployed: Deployed):
    """The logins MLflow re-reads while running (its users sync) stay SDK reads by the task
    role, on exactly those secrets."""
    stmts = _policy_of(deployed, deployed.name("mlflow-task"))
    [read] = [s for s in stmts if "secretsmanager:GetSecretValue" in _list(s["Action"])]
    assert sorted(_list(read["Resource"])) == sorted(
        _secret(deployed, n).arn for n in ("mlflow-basic-auth", "mlflow-users", "mlflow-runner"))


# -- the strategy task's ticket ---------------------------------------------------------------


def test_strategy_task_reads_and_updates_its_workflow_state_ticket_only(deployed: Deployed):
    table = deployed.one("aws:dynamodb/table:Table", deployed.name("workflow-state"))
    stmts = _policy_of(deployed, deployed.name("strategy-task"))
    on_table = {a for s in stmts if table.arn in _list(s["Resource"]) for a in _list(s["Action"])}
    assert on_table == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert not any(f"{table.arn}/index/*" in _list(s["Resource"]) for s in stmts)


# -- item 7: MLflow reachable -------------------------------------------------------------


def test_mlflow_serves_its_route_under_the_prefix_and_answers_its_dns_names(
        deployed: Deployed, monkeypatch: pytest.MonkeyPatch):
    from mlflow.server.security_utils import get_allowed_hosts_from_env, is_allowed_host_header

    env = {e["name"]: e["value"] for e in _container(deployed, "mlflow")["environment"]}
    assert env["TRADAI_MLFLOW_STATIC_PREFIX"] == "/mlflow"
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", env["MLFLOW_SERVER_ALLOWED_HOSTS"])
    hosts = get_allowed_hosts_from_env()
    assert hosts is not None
    alb = deployed.one("aws:lb/loadBalancer:LoadBalancer", deployed.name("alb"))
    for host in ("mlflow.tradai-dev.local:5000", f"{alb.name}.elb.mock",
                 f"{alb.name}.elb.mock:80", "abc123.execute-api.eu-central-1.amazonaws.com",
                 "127.0.0.1:5000"):
        assert is_allowed_host_header(hosts, host), host
    for host in ("evil.example.com", "mlflow.tradai-prod.local:5000", "10.0.11.7:5000"):
        assert not is_allowed_host_header(hosts, host), host
    # The ALB forwards /mlflow/* unchanged to MLflow, which checks health under the prefix.
    tg = deployed.one("aws:lb/targetGroup:TargetGroup", deployed.name("tg-mlflow"))
    assert tg.inputs["healthCheck"]["path"] == "/mlflow/health"
    [rule] = [r for r in deployed.of_type("aws:lb/listenerRule:ListenerRule")
              if r.inputs["actions"][0]["targetGroupArn"] == tg.arn]
    assert rule.inputs["conditions"][0]["pathPattern"]["values"] == ["/mlflow/*"]


def test_exactly_the_functions_that_call_mlflow_reach_it(deployed: Deployed):
    callers = set(client_functions(deployed.topo))
    # validate-strategy reads the registry; health-check probes /health of each service.
    assert {"validate-strategy", "health-check"} <= callers
    assert not callers & {"backtest-consumer", "update-nat-routes", "orphan-scanner"}
    clients = deployed.one(SG, deployed.name("sg-mlflow-clients")).id
    mlflow = deployed.one(SG, deployed.name("sg-mlflow")).id
    sources = {r.inputs.get("referencedSecurityGroupId")
               for r in deployed.where(INGRESS, securityGroupId=mlflow)}
    assert clients in sources
    assert deployed.one(SG, deployed.name("sg-lambdas")).id not in sources
    carrying = {fn.inputs["name"] for fn in deployed.of_type("aws:lambda/function:Function")
                if clients in (fn.inputs.get("vpcConfig") or {}).get("securityGroupIds", [])}
    assert carrying == {deployed.name(f.name) for f in deployed.lambdas if f.name in callers}


def test_whoever_is_told_the_mlflow_url_may_reach_it(deployed: Deployed):
    """Every container and function with TRADAI_MLFLOW_URL gets the prefixed Cloud Map URL
    and carries a security group MLflow admits; the platform's MLflow clients all have it."""
    url = "http://mlflow.tradai-dev.local:5000/mlflow"
    mlflow = deployed.one(SG, deployed.name("sg-mlflow")).id
    admitted = {r.inputs.get("referencedSecurityGroupId")
                for r in deployed.where(INGRESS, securityGroupId=mlflow)}
    told = set()
    for svc in deployed.of_type("aws:ecs/service:Service"):
        [td] = [t for t in deployed.of_type(TASK_DEF) if t.arn == svc.inputs["taskDefinition"]]
        [container] = json.loads(td.inputs["containerDefinitions"])
        env = {e["name"]: e["value"] for e in container["environment"]}
        if "TRADAI_MLFLOW_URL" in env:
            told.add(container["name"])
            assert env["TRADAI_MLFLOW_URL"] == url
            assert set(svc.inputs["networkConfiguration"]["securityGroups"]) & admitted
    tasks_sg = deployed.one(SG, deployed.name("sg-tasks")).id
    for spec in deployed.topo.task_definitions:  # run in the tasks group (ASL, sessions)
        env = {e["name"]: e["value"] for e in _container(deployed, spec.name)["environment"]}
        assert env["TRADAI_MLFLOW_URL"] == url and tasks_sg in admitted
        told.add(spec.name)
    for fn in deployed.of_type("aws:lambda/function:Function"):
        if "TRADAI_MLFLOW_URL" in fn.inputs["environment"]["variables"]:
            told.add(fn.inputs["name"].removeprefix("tradai-dev-"))
            assert fn.inputs["environment"]["variables"]["TRADAI_MLFLOW_URL"] == url
            assert set(fn.inputs["vpcConfig"]["securityGroupIds"]) & admitted, fn.name
    assert {"backend-api", "strategy-service", "strategy", "strategy-service-task",
            "validate-strategy", "health-check"} <= told
    assert "data-collection" not in told and "backtest-consumer" not in told


# -- item 8: KMS for SNS, unique bucket names ----------------------------------------------


def test_topics_use_a_customer_managed_key_cloudwatch_may_use(deployed: Deployed):
    [key] = deployed.of_type("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    policy = json.loads(key.inputs["policy"])
    [cw] = [s for s in policy["Statement"]
            if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(cw["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    # Everyone else only through SNS, in this account.
    [via_sns] = [s for s in policy["Statement"] if s["Principal"] == {"AWS": "*"}]
    assert via_sns["Condition"]["StringEquals"] == {
        "kms:CallerAccount": ACCOUNT, "kms:ViaService": "sns.eu-central-1.amazonaws.com"}
    for topic in deployed.of_type("aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"] == key.arn, topic.name
    # The alarms publish to those topics.
    topics = {t.arn for t in deployed.of_type("aws:sns/topic:Topic")}
    for alarm in deployed.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert set(alarm.inputs["alarmActions"]) <= topics


def test_bucket_names_reach_configuration_as_exported(run: Run):
    buckets = {r.name: r.inputs["bucket"] for r in run.resources
               if r.typ == "aws:s3/bucket:Bucket"}
    assert run.exports["buckets"] == {
        logical: buckets[f"tradai-dev-{logical}"]
        for logical in ("configs", "results", "arcticdb", "mlflow-artifacts")}
    assert all(name.endswith(f"-{ACCOUNT}-eu-central-1") for name in buckets.values())


def test_every_process_is_told_the_buckets_it_may_use(deployed: Deployed):
    """The code finds a bucket only through TRADAI_BUCKET_<NAME>; each container and function
    gets the physical name of every bucket its access names."""
    from tradai.topology.access import access_of

    names = {r.name.removeprefix("tradai-dev-"): r.inputs["bucket"]
             for r in deployed.of_type("aws:s3/bucket:Bucket")}

    def expected(access: Any) -> dict[str, str]:
        logical = {*access.buckets_read, *access.buckets_write,
                   *(e.partition("/")[0] for e in (*access.objects_read, *access.objects_write))}
        return {f"TRADAI_BUCKET_{n.upper().replace('-', '_')}": names[n] for n in logical}

    checked = 0
    for name in [c.name for c in (*deployed.topo.services, *deployed.topo.task_definitions)]:
        access = access_of(deployed.topo, name)
        env = {e["name"]: e["value"] for e in _container(deployed, name)["environment"]}
        got = {k: v for k, v in env.items() if k.startswith("TRADAI_BUCKET_")}
        assert got == expected(access), name
        checked += bool(got)
    for fn in deployed.lambdas:
        [res] = deployed.where("aws:lambda/function:Function", name=deployed.name(fn.name))
        env = res.inputs["environment"]["variables"]
        got = {k: v for k, v in env.items() if k.startswith("TRADAI_BUCKET_")}
        assert got == expected(access_of(deployed.topo, fn.name)), fn.name
        checked += bool(got)
    assert checked >= 6  # mlflow's artifacts, the strategy task's results, ...
    env = {e["name"]: e["value"] for e in _container(deployed, "mlflow")["environment"]}
    assert env["TRADAI_BUCKET_MLFLOW_ARTIFACTS"] == names["mlflow-artifacts"]


# -- bad input: before any resource -----------------------------------------------------------


def test_a_spec_secret_nobody_fills(topo: Topology, settings: Any):
    extra = topo.secrets[0].model_copy(update={"name": "new-secret"})
    bad = topo.model_copy(update={"secrets": [*topo.secrets, extra]})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"secrets\['new-secret'\]: tradai_infra.secret_values neither generates")


def test_a_function_calling_mlflow_outside_the_vpc(topo: Topology, settings: Any):
    bad = topo.model_copy(update={"lambdas": _replace(topo.lambdas, "validate-strategy",
                                                      in_vpc=False)})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"lambdas \['validate-strategy'\]: they call MLflow")


def test_a_service_or_task_whose_policy_is_not_given(topo: Topology, settings: Any):
    extra = topo.task_definitions[1].model_copy(update={"name": "new-task", "access": None})
    bad = topo.model_copy(update={"task_definitions": [*topo.task_definitions, extra]})
    _deploy_fails(bad, settings, SpecMappingError,
                  r"task_definitions\['new-task'\]: no access; declare what it reads")


def test_bucket_name_too_long_for_s3(topo: Topology, settings: Any):
    from tradai_infra.errors import InfraConfigError

    extra = SimpleNamespace(name="a-very-long-bucket-name-for-results-of-it-all")
    bad = topo.model_copy(update={"buckets": [*topo.buckets, extra]})
    _deploy_fails(bad, settings, InfraConfigError, r"bucket 'a-very-long-bucket-name")
