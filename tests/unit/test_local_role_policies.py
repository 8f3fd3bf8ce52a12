"""The local roles hold the policies the Pulumi program deploys: the bootstrap, run against
moto's server, puts on each function's and container's role the document the one builder
(``tradai.topology.iam_policy``) makes from the spec's access with the emulator's ARNs.

The Pulumi side of the same claim is ``tests/infra/test_role_policies.py``; together they say
that the two sides hold the same policies modulo ARNs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

from tradai.clock import Clock
from tradai.topology import default_topology
from tradai.topology.iam_policy import POLICY_NAME, ResourceArns, role_policy
from tradai.topology.model import Topology
from tradai_sim.cloud.bootstrap.policies import local_arns
from tradai_sim.cloud.bootstrap.resources import Bootstrap
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.ecs.runtime import EcsRuntime
from tradai_sim.cloud.rds.part import CONTAINER_SECRETS_KEY


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bootstrap]:
    """Every bootstrap step, as ``tradai-sim up`` runs them, against moto's server."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # moto's state is per process, shared by every in-process server: start empty.
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=30).raise_for_status()
        ctx = CloudContext(endpoint=f"http://{host}:{port}", region="eu-central-1",
                           env="local", clock=Clock(), state_dir=tmp_path_factory.mktemp("s"),
                           topology=default_topology())
        # As the RDS part's prepare says with a PostgreSQL store: MLflow's database login
        # comes in through ECS secrets.
        ctx.resources[CONTAINER_SECRETS_KEY] = ["mlflow"]
        boot = Bootstrap(ctx)
        boot.run()
        yield boot
    finally:
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=30)
        server.stop()


def _role_policies(boot: Bootstrap, role: str) -> dict[str, Any]:
    iam = boot.ctx.client("iam")
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
            for n in names}


def test_every_role_holds_the_builders_policy_with_local_arns(stack: Bootstrap):
    topo: Topology = stack.ctx.topology
    arns = local_arns(stack.ctx)
    roles = stack.ctx.resources["role_policies"]
    # Every service and task definition, every function the bootstrap created (handler code).
    deployed_functions = {f.name for f in topo.lambdas} - set(
        stack.not_implemented["lambdas"])
    assert set(roles) == {*deployed_functions, *(s.name for s in topo.services),
                          *(t.name for t in topo.task_definitions)}
    for component, role in roles.items():
        assert _role_policies(stack, role) == {
            POLICY_NAME: role_policy(topo, component, arns)}, component


def test_local_arns_are_the_emulators(stack: Bootstrap):
    """The ARNs a policy names are those the emulator reports for the resources, so a call
    on the resource matches them (secrets with their random suffix, the NAT group's id)."""
    ctx = stack.ctx
    arns = local_arns(ctx)
    sm = ctx.client("secretsmanager")
    for s in ctx.topology.secrets:
        assert arns.secrets[s.name] == sm.describe_secret(SecretId=ctx.name(s.name))["ARN"]
    assert re.fullmatch(r"arn:aws:secretsmanager:.+:secret:tradai-local-exchange-credentials-"
                        r"\w{6}", arns.secrets["exchange-credentials"])
    [group] = ctx.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert arns.nat_group == group["AutoScalingGroupARN"]
    sfn = ctx.client("stepfunctions")
    assert set(arns.state_machines.values()) == {
        m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    ecs = ctx.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=ctx.name("strategy"))["taskDefinition"]
    assert arns.task_families["strategy"] == td["taskDefinitionArn"].rpartition(":")[0] + ":*"
    [table] = [t for t in ctx.topology.tables if t.name == "workflow-state"]
    assert arns.tables[table.name] == ctx.client("dynamodb").describe_table(
        TableName=ctx.name(table.name))["Table"]["TableArn"]
    role = ctx.client("iam").get_role(RoleName=ctx.name("strategy-task"))["Role"]["Arn"]
    assert role in arns.task_roles and role in arns.session_roles
    sqs = ctx.client("sqs")
    assert arns.queues == {q.name: sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=ctx.name(q.name))["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"] for q in ctx.topology.queues}
    assert set(arns.topics.values()) == {
        t["TopicArn"] for t in ctx.client("sns").list_topics()["Topics"]}
    # S3 answers names only; a bucket's ARN is arn:aws:s3:::<name>
    # (https://docs.aws.amazon.com/AmazonS3/latest/dev/s3-arn-format.html).
    names = {b["Name"] for b in ctx.client("s3").list_buckets()["Buckets"]}
    assert {a.removeprefix("arn:aws:s3:::") for a in arns.buckets.values()} == names
    lam = ctx.client("lambda")
    for name in set(ctx.resources["role_policies"]) & set(arns.lambdas):
        assert arns.lambdas[name] == lam.get_function(FunctionName=ctx.name(name))[
            "Configuration"]["FunctionArn"]
    [cluster] = ctx.client("ecs").describe_clusters(clusters=[ctx.name("strategies")])[
        "clusters"]
    assert arns.cluster == cluster["clusterArn"]
    private = ctx.client("ec2").describe_route_tables(Filters=[
        {"Name": "tag:Name", "Values": [ctx.name("private-rt-*")]}])["RouteTables"]
    assert {a.rpartition("/")[2] for a in arns.route_tables} == {
        rt["RouteTableId"] for rt in private} and len(private) == 2


def test_a_consumer_can_receive_from_its_trigger_queue_and_nothing_else(stack: Bootstrap):
    """Derived grants: the backtest consumer's trigger queue, its log group, its ENIs; no
    grant on the other queues (what enforcement will judge against)."""
    doc = _role_policies(stack, stack.ctx.name("backtest-consumer-fn"))[POLICY_NAME]
    by_action: dict[str, set[str]] = {}
    for s in doc["Statement"]:
        for a in s["Action"]:
            by_action.setdefault(a, set()).update(s["Resource"])
    queues = stack.ctx.resources["queues"]["arns"]
    assert by_action["sqs:ReceiveMessage"] == {queues["backtest-queue.fifo"]}
    assert queues["retraining-queue.fifo"] not in set().union(*by_action.values())
    assert by_action["logs:PutLogEvents"] == {
        f"arn:aws:logs:eu-central-1:{stack.ctx.account_id}:log-group:/aws/lambda/"
        f"tradai-local-backtest-consumer:*"}
    assert by_action["ec2:CreateNetworkInterface"] == {"*"}


def test_rerunning_the_bootstrap_keeps_one_policy_per_role(stack: Bootstrap):
    before = {r: _role_policies(stack, r) for r in stack.ctx.resources["role_policies"].values()}
    stack.policies()
    assert {r: _role_policies(stack, r)
            for r in stack.ctx.resources["role_policies"].values()} == before


def test_mlflow_gets_its_database_login_through_ecs_secrets_read_by_the_execution_role(
        stack: Bootstrap):
    """As the Pulumi program deploys it (tradai.topology.ecs_secrets): the MLflow container
    definition names the login's JSON keys, the execution role may read that secret, MLflow's
    task role may not; the local ECS runtime hands the values in, read with the execution
    role's credentials (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
    secrets-envvar-secrets-manager.html)."""
    ctx = stack.ctx
    database = ctx.resources["secrets"]["mlflow-database"]
    [container] = ctx.client("ecs").describe_task_definition(taskDefinition=ctx.name("mlflow"))[
        "taskDefinition"]["containerDefinitions"]
    assert container["secrets"] == [
        {"name": "TRADAI_MLFLOW_DB_USERNAME", "valueFrom": f"{database}:username::"},
        {"name": "TRADAI_MLFLOW_DB_PASSWORD", "valueFrom": f"{database}:password::"}]
    runner = ctx.resources["secrets"]["mlflow-runner"]
    execution = _role_policies(stack, ctx.name("ecs-execution"))[POLICY_NAME]
    assert execution["Statement"] == [{"Effect": "Allow", "Action": [
        "secretsmanager:GetSecretValue"], "Resource": sorted([database, runner])}]
    mlflow = _role_policies(stack, ctx.name("mlflow-task"))[POLICY_NAME]
    assert database not in json.dumps(mlflow)

    runtime = EcsRuntime(ctx, zone_of=lambda subnet: "eu-central-1a")
    record = SimpleNamespace(short_id="t1")
    role = ctx.client("iam").get_role(RoleName=ctx.name("ecs-execution"))["Role"]["Arn"]
    value = json.loads(ctx.client("secretsmanager").get_secret_value(
        SecretId=database)["SecretString"])
    assert runtime._injected_secrets(record, container, role) == {  # type: ignore[arg-type]
        "TRADAI_MLFLOW_DB_USERNAME": value["username"],
        "TRADAI_MLFLOW_DB_PASSWORD": value["password"]}
    with pytest.raises(RuntimeError, match="ResourceInitializationError"):
        runtime._injected_secrets(record, container, None)  # type: ignore[arg-type]


def test_strategy_tasks_get_their_mlflow_login_from_ecs_not_their_task_role(
        stack: Bootstrap):
    """The runner login as the MLflow client's variables, handed in by ECS (read by the
    execution role, whatever MLflow's store: https://docs.aws.amazon.com/AmazonECS/latest/
    developerguide/secrets-envvar-secrets-manager.html); strategy code's task role reads no
    MLflow secret."""
    ctx = stack.ctx
    runner = ctx.resources["secrets"]["mlflow-runner"]
    [container] = ctx.client("ecs").describe_task_definition(
        taskDefinition=ctx.name("strategy"))["taskDefinition"]["containerDefinitions"]
    assert container["secrets"] == [
        {"name": "MLFLOW_TRACKING_USERNAME", "valueFrom": f"{runner}:username::"},
        {"name": "MLFLOW_TRACKING_PASSWORD", "valueFrom": f"{runner}:password::"}]
    task_role = json.dumps(_role_policies(stack, ctx.name("strategy-task")))
    for name in ("mlflow-runner", "mlflow-basic-auth", "mlflow-users"):
        assert ctx.resources["secrets"][name] not in task_role, name


def test_the_builder_depends_on_arns_only_through_their_values():
    """Modulo ARNs the policy is the spec's: two ARN mappings give documents equal once each
    ARN is replaced by its logical name (what lets the local and the AWS documents be
    compared)."""
    topo = default_topology()
    one, two = _symbolic(topo, "one"), _symbolic(topo, "two")
    for component in [*(f.name for f in topo.lambdas), *(s.name for s in topo.services),
                      *(t.name for t in topo.task_definitions)]:
        a = str(role_policy(topo, component, one)).replace("one:", "")
        b = str(role_policy(topo, component, two)).replace("two:", "")
        assert a == b, component


def _symbolic(topo: Topology, tag: str) -> ResourceArns:
    def named(kind: str, names: list[str]) -> dict[str, str]:
        return {n: f"{tag}:{kind}:{n}" for n in names}

    return ResourceArns(
        tables=named("table", [t.name for t in topo.tables]),
        queues=named("queue", [q.name for q in topo.queues]),
        buckets=named("bucket", [b.name for b in topo.buckets]),
        topics=named("topic", [t.name for t in topo.topics]),
        secrets=named("secret", [s.name for s in topo.secrets]),
        state_machines=named("states", [m.name for m in topo.state_machines]),
        lambdas=named("lambda", [f.name for f in topo.lambdas]),
        log_groups=named("log-group", [f.name for f in topo.lambdas]),
        task_families=named("task-family", [t.name for t in topo.task_definitions]),
        cluster=f"{tag}:cluster", cluster_tasks=f"{tag}:cluster-tasks/*",
        cluster_services=f"{tag}:cluster-services/*", task_roles=(f"{tag}:role:task",),
        session_services=f"{tag}:session-services", session_roles=(f"{tag}:role:session",),
        nat_group=f"{tag}:nat-group", route_tables=(f"{tag}:rt",), instances=f"{tag}:i/*",
        nat_name="nat")

