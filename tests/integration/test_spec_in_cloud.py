"""Every resource the topology spec names exists in the local cloud, with the spec's settings."""

from __future__ import annotations

import json

from tests.integration.cloud import RunningCloud
from tradai.topology import default_topology
from tradai_sim.cloud.bootstrap.handlers import handler_exists

SPEC = default_topology()


def test_network(cloud: RunningCloud) -> None:
    ec2 = cloud.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [cloud.name("vpc")]}])[
        "Vpcs"][0]
    assert vpc["CidrBlock"] == SPEC.network.vpc_cidr
    subnets = {s["CidrBlock"]: s["AvailabilityZone"] for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]}
    for az in SPEC.network.azs:
        for cidr in (az.public, az.private, az.database):
            assert subnets[cidr] == f"{SPEC.region}{az.name}"


def test_queues_with_dlq_and_declared_visibility(cloud: RunningCloud) -> None:
    sqs = cloud.client("sqs")
    for q in SPEC.queues:
        url = sqs.get_queue_url(QueueName=cloud.name(q.name))["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs.get("FifoQueue") == ("true" if q.fifo else None)
        # Not scaled: it bounds the consumer's work (the time model, README)
        assert int(attrs["VisibilityTimeout"]) == q.visibility_timeout
        if q.dlq:
            policy = json.loads(attrs["RedrivePolicy"])
            assert policy["maxReceiveCount"] == q.max_receive_count
            assert policy["deadLetterTargetArn"].endswith(":" + cloud.name(q.dlq))


def test_tables_with_keys_and_ttl(cloud: RunningCloud) -> None:
    ddb = cloud.client("dynamodb")
    for t in SPEC.tables:
        desc = ddb.describe_table(TableName=cloud.name(t.name))["Table"]
        keys = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
        assert keys["HASH"] == t.hash_key and keys.get("RANGE") == t.range_key
        assert {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])} == {
            i.name for i in t.indexes}
        ttl = ddb.describe_time_to_live(TableName=cloud.name(t.name))["TimeToLiveDescription"]
        if t.ttl_attribute:
            assert ttl["TimeToLiveStatus"] == "ENABLED"
            assert ttl["AttributeName"] == t.ttl_attribute


def test_buckets_topics_secrets_schedules_machines(cloud: RunningCloud) -> None:
    buckets = {b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]}
    assert {cloud.name(b.name) for b in SPEC.buckets} <= buckets
    topics = {t["TopicArn"].rsplit(":", 1)[1] for t in cloud.client("sns").list_topics()[
        "Topics"]}
    assert {cloud.name(t.name) for t in SPEC.topics} <= topics
    sm = cloud.client("secretsmanager")
    for s in SPEC.secrets:
        value = json.loads(sm.get_secret_value(SecretId=cloud.name(s.name))["SecretString"])
        assert set(value) == set(s.fields)
    events = cloud.client("events")
    for s in SPEC.schedules:
        rule = events.describe_rule(Name=cloud.name(s.name))
        assert rule["ScheduleExpression"] == s.expression
        targets = events.list_targets_by_rule(Rule=cloud.name(s.name))["Targets"]
        assert [t["Arn"].rsplit(":", 1)[1] for t in targets] == [cloud.name(s.target_lambda)]
    machines = {m["name"] for m in cloud.client("stepfunctions").list_state_machines()[
        "stateMachines"]}
    assert {cloud.name(m.name) for m in SPEC.state_machines} <= machines


def test_implemented_lambdas_with_memory_timeout_and_vpc(cloud: RunningCloud) -> None:
    lam = cloud.client("lambda")
    for fn in SPEC.lambdas:
        if not handler_exists(fn.handler):
            continue
        conf = lam.get_function_configuration(FunctionName=cloud.name(fn.name))
        assert (conf["MemorySize"], conf["Timeout"], conf["Handler"]) == (
            fn.memory, fn.timeout, fn.handler)
        assert bool(conf.get("VpcConfig", {}).get("SubnetIds")) == fn.in_vpc


def test_task_definitions_and_identity(cloud: RunningCloud) -> None:
    ecs = cloud.client("ecs")
    for name, cpu, memory in [(s.name, s.cpu, s.memory) for s in SPEC.services] + [
            (t.name, t.cpu, t.memory) for t in SPEC.task_definitions]:
        td = ecs.describe_task_definition(taskDefinition=cloud.name(name))["taskDefinition"]
        assert (int(td["cpu"]), int(td["memory"])) == (cpu, memory)
        assert td["containerDefinitions"][0]["memory"] == memory
    pools = [p["Name"] for p in cloud.client("cognito-idp").list_user_pools(MaxResults=10)[
        "UserPools"]]
    assert cloud.name(SPEC.edge.user_pool) in pools


def test_every_component_receives_what_its_settings_require(cloud: RunningCloud) -> None:
    """The one runtime configuration as deployed in the local cloud (not only as built):
    each function's and task definition's environment in the emulator carries every variable
    the settings its code imports require (tests/settings_reads.py; the Pulumi side is
    tests/infra/test_runtime_config.py)."""
    from tests import settings_reads as reads

    lam, ecs = cloud.client("lambda"), cloud.client("ecs")
    environments: dict[str, dict[str, object]] = {}
    for fn in SPEC.lambdas:
        if handler_exists(fn.handler):
            environments[fn.name] = lam.get_function_configuration(
                FunctionName=cloud.name(fn.name))["Environment"]["Variables"]
    for name in [s.name for s in SPEC.services] + [t.name for t in SPEC.task_definitions]:
        [container] = ecs.describe_task_definition(taskDefinition=cloud.name(name))[
            "taskDefinition"]["containerDefinitions"]
        environments[name] = {e["name"]: e["value"] for e in container["environment"]}
    assert reads.gaps(SPEC, environments) == []
    assert environments["backend-api"]["TRADAI_QUEUE_BACKTEST_QUEUE"].endswith(
        cloud.name("backtest-queue.fifo"))
