"""Every topology spec entry becomes its AWS resource with the same settings."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pulumi

import tradai
from tests.infra.conftest import Deployed
from tests.infra.mocks import ACCOUNT, mock_arn_suffix, run_program
from tradai.topology import Topology
from tradai.topology.model import Alarm

FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_every_lambda_has_the_spec_memory_timeout_handler_and_placement(deployed: Deployed):
    functions = deployed.of_type(FN)
    assert len(functions) == len(deployed.lambdas) == 18 - len(deployed.unbuilt)
    for spec in deployed.lambdas:
        fn = deployed.one(FN, deployed.name(spec.name))
        assert fn.inputs["memorySize"] == spec.memory, spec.name
        assert fn.inputs["timeout"] == spec.timeout, spec.name
        assert fn.inputs["handler"] == spec.handler, spec.name
        assert fn.inputs["runtime"] == "python3.11"
        # in_vpc false (notify-completion, pulumi-drift-detector) means no vpc_config at all.
        assert ("vpcConfig" in fn.inputs) == spec.in_vpc, spec.name


def test_every_function_has_handler_code_and_both_machines_are_deployed(deployed: Deployed):
    """Written out, not recomputed: the model lifecycle issue (12) supplied the last handlers
    (the Retraining workflow's and model-rollback), so nothing is left out any more."""
    assert deployed.unbuilt == []
    assert deployed.unbuilt_machines == []
    names = {r.name for r in deployed.of_type(FN)}
    assert names == {deployed.name(f.name) for f in deployed.lambdas}
    assert sorted(m.name for m in deployed.of_type("aws:sfn/stateMachine:StateMachine")) == \
        sorted(deployed.name(n) for n in ("backtest-workflow", "retraining-workflow"))


def test_lambda_code_is_the_platform_package(deployed: Deployed):
    """One zip for every function: the tradai package's files (no bytecode) under tradai/
    (lambda_package.py; its dependencies are the layer, test_lambda_package.py)."""
    package = Path(tradai.__file__).parent
    want = {f"tradai/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    codes = [fn.inputs["code"] for fn in deployed.of_type(FN)]
    assert all(isinstance(c, pulumi.FileArchive) for c in codes)
    [path] = {c.path for c in codes}
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == want


def test_sqs_triggers_map_batches_with_partial_failures(deployed: Deployed):
    mappings = deployed.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    sqs_specs = [f for f in deployed.lambdas if f.trigger.type == "sqs"]
    assert len(mappings) == len(sqs_specs)
    for spec in sqs_specs:
        fn = deployed.one(FN, deployed.name(spec.name))
        queue = deployed.one(QUEUE, deployed.name(spec.trigger.queue))
        [m] = [m for m in mappings if m.inputs["functionName"] == fn.arn]
        assert m.inputs["eventSourceArn"] == queue.arn
        assert m.inputs["batchSize"] == spec.trigger.batch_size
        assert m.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]


def test_scheduled_lambdas_have_rule_target_and_permission(deployed: Deployed):
    scheduled = [f for f in deployed.lambdas if f.trigger.type == "schedule"]
    assert len(scheduled) == len([s for s in deployed.topo.schedules
                                  if s.target_lambda not in deployed.unbuilt])
    for spec in scheduled:
        schedule = deployed.topo.schedule(spec.trigger.schedule)
        fn = deployed.one(FN, deployed.name(spec.name))
        [rule] = deployed.where("aws:cloudwatch/eventRule:EventRule",
                                scheduleExpression=schedule.expression,
                                name=deployed.name(f"{schedule.name}-schedule"))
        targets = deployed.where("aws:cloudwatch/eventTarget:EventTarget", arn=fn.arn)
        assert [t.inputs["rule"] for t in targets] == [rule.inputs["name"]]
        perms = deployed.where("aws:lambda/permission:Permission", function=fn.inputs["name"],
                               principal="events.amazonaws.com")
        assert [p.inputs["sourceArn"] for p in perms] == [rule.arn]


def test_nat_group_lifecycle_hook_invokes_update_nat_routes(deployed: Deployed):
    nat = deployed.topo.network.nat
    hook = nat.lifecycle_hook
    group = deployed.one("aws:autoscaling/group:Group", deployed.name("nat"))
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (nat.asg_min, nat.asg_max)
    [spec_hook] = group.inputs["initialLifecycleHooks"]
    assert spec_hook["name"] == hook.name
    assert spec_hook["lifecycleTransition"] == hook.transition
    assert spec_hook["heartbeatTimeout"] == hook.heartbeat_timeout
    assert spec_hook["defaultResult"] == hook.default_result
    public = {deployed.one("aws:ec2/subnet:Subnet", deployed.name(f"public-{az.name}")).id
              for az in deployed.topo.network.azs}
    assert set(group.inputs["vpcZoneIdentifiers"]) == public
    template = deployed.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0]
    assert template.inputs["instanceType"] == nat.instance_type

    rule = deployed.one("aws:cloudwatch/eventRule:EventRule", deployed.name(f"{hook.name}-hook"))
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail"]["AutoScalingGroupName"] == [group.inputs["name"]]
    assert pattern["detail-type"] == ["EC2 Instance-launch Lifecycle Action"]
    target_fn = deployed.one(FN, deployed.name(hook.target_lambda))
    [target] = deployed.where("aws:cloudwatch/eventTarget:EventTarget", rule=rule.inputs["name"])
    assert target.inputs["arn"] == target_fn.arn


def test_queues_are_fifo_encrypted_with_the_spec_redrive(deployed: Deployed):
    assert len(deployed.of_type(QUEUE)) == len(deployed.topo.queues)
    for spec in deployed.topo.queues:
        q = deployed.one(QUEUE, deployed.name(spec.name))
        assert q.inputs["name"] == deployed.name(spec.name)
        assert q.inputs["name"].endswith(".fifo") == spec.fifo
        assert q.inputs["fifoQueue"] is spec.fifo
        assert q.inputs["contentBasedDeduplication"] is spec.content_based_dedup
        assert q.inputs["visibilityTimeoutSeconds"] == spec.visibility_timeout
        assert q.inputs["messageRetentionSeconds"] == spec.retention_seconds
        if spec.dlq:
            redrive = json.loads(q.inputs["redrivePolicy"])
            dlq = deployed.one(QUEUE, deployed.name(spec.dlq))
            assert redrive == {"deadLetterTargetArn": dlq.arn,
                               "maxReceiveCount": spec.max_receive_count}
        else:
            assert "redrivePolicy" not in q.inputs


def test_subnets_span_two_azs_with_the_document_cidrs(deployed: Deployed):
    subnets = deployed.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 6
    vpc = deployed.of_type("aws:ec2/vpc:Vpc")[0]
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16" == deployed.topo.network.vpc_cidr
    expected = {
        ("public", "eu-central-1a"): "10.0.1.0/24", ("public", "eu-central-1b"): "10.0.2.0/24",
        ("private", "eu-central-1a"): "10.0.11.0/24", ("private", "eu-central-1b"): "10.0.12.0/24",
        ("database", "eu-central-1a"): "10.0.21.0/24",
        ("database", "eu-central-1b"): "10.0.22.0/24",
    }
    actual = {(s.inputs["tags"]["tier"], s.inputs["availabilityZone"]): s.inputs["cidrBlock"]
              for s in subnets}
    assert actual == expected
    assert all(s.inputs["vpcId"] == vpc.id for s in subnets)
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)


def _container(deployed: Deployed, family: str) -> tuple[dict, dict]:
    [td] = deployed.where("aws:ecs/taskDefinition:TaskDefinition", family=family)
    [container] = json.loads(td.inputs["containerDefinitions"])
    return td.inputs, container


def test_services_have_spec_cpu_memory_port_and_scaling(deployed: Deployed):
    services = deployed.of_type("aws:ecs/service:Service")
    assert len(services) == len(deployed.topo.services) == 4
    for spec in deployed.topo.services:
        name = deployed.name(spec.name)
        svc = deployed.one("aws:ecs/service:Service", name)
        td, container = _container(deployed, name)
        assert svc.inputs["taskDefinition"] == deployed.one(
            "aws:ecs/taskDefinition:TaskDefinition", name).arn
        assert (td["cpu"], td["memory"]) == (str(spec.cpu), str(spec.memory)), spec.name
        assert container["portMappings"] == [{"containerPort": spec.port, "protocol": "tcp"}]
        assert container["command"] == ["python", "-m", spec.entrypoint]
        assert svc.inputs["desiredCount"] == spec.min
        target = deployed.one("aws:appautoscaling/target:Target", f"{name}-scaling")
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (spec.min, spec.max)
        policy = deployed.one("aws:appautoscaling/policy:Policy", f"{name}-cpu")
        tracking = policy.inputs["targetTrackingScalingPolicyConfiguration"]
        assert tracking["targetValue"] == spec.cpu_target
        assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == \
            "ECSServiceAverageCPUUtilization"
        assert svc.inputs["networkConfiguration"]["securityGroups"] == [
            deployed.one("aws:ec2/securityGroup:SecurityGroup",
                         deployed.name(f"sg-{spec.name}")).id]


def test_load_balanced_services_have_target_groups_and_alb_rules(deployed: Deployed):
    groups = deployed.of_type("aws:lb/targetGroup:TargetGroup")
    balanced = [s for s in deployed.topo.services if s.load_balanced]
    assert len(groups) == len(balanced)
    rules = deployed.of_type("aws:lb/listenerRule:ListenerRule")
    for spec in balanced:
        tg = deployed.one("aws:lb/targetGroup:TargetGroup", deployed.name(f"tg-{spec.name}"))
        assert tg.inputs["port"] == spec.port and tg.inputs["targetType"] == "ip"
        # MLflow registers /health under its static prefix.
        assert tg.inputs["healthCheck"]["path"] == \
            ("/mlflow" if spec.name == "mlflow" else "") + spec.health_path
        svc = deployed.one("aws:ecs/service:Service", deployed.name(spec.name))
        assert svc.inputs["loadBalancers"] == [{"targetGroupArn": tg.arn,
                                                "containerName": spec.name,
                                                "containerPort": spec.port}]
        paths = [r.inputs["conditions"][0]["pathPattern"]["values"] for r in rules
                 if r.inputs["actions"][0]["targetGroupArn"] == tg.arn]
        assert paths == [[r.path] for r in deployed.topo.edge.routes if r.service == spec.name]
    alb = deployed.of_type("aws:lb/loadBalancer:LoadBalancer")[0]
    assert alb.inputs["internal"] is True


def test_task_definitions_and_spot_capacity(deployed: Deployed):
    for spec in deployed.topo.task_definitions:
        td, container = _container(deployed, deployed.name(spec.name))
        assert (td["cpu"], td["memory"]) == (str(spec.cpu), str(spec.memory))
        assert td["requiresCompatibilities"] == ["FARGATE"]
        # The ASL's container override names the container after the task definition.
        assert container["name"] == spec.name
    providers = deployed.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")[0]
    assert "FARGATE_SPOT" in providers.inputs["capacityProviders"]
    # One image for every service and task: one repository (tests/infra/test_image.py).
    repos = {r.inputs["name"] for r in deployed.of_type("aws:ecr/repository:Repository")}
    assert repos == {deployed.name("platform")}


def test_tables_keys_ttl_and_recovery(deployed: Deployed):
    assert len(deployed.of_type("aws:dynamodb/table:Table")) == len(deployed.topo.tables)
    for spec in deployed.topo.tables:
        t = deployed.one("aws:dynamodb/table:Table", deployed.name(spec.name)).inputs
        assert t["billingMode"] == "PAY_PER_REQUEST"
        assert t["hashKey"] == spec.hash_key and t.get("rangeKey") == spec.range_key
        if spec.ttl_attribute:
            assert t["ttl"] == {"attributeName": spec.ttl_attribute, "enabled": True}
        else:
            assert "ttl" not in t
        assert t["pointInTimeRecovery"] == {"enabled": True}
        assert [(i["name"], i["hashKey"], i.get("rangeKey")) for i in
                t.get("globalSecondaryIndexes", [])] == \
            [(i.name, i.hash_key, i.range_key) for i in spec.indexes]
        keys = {spec.hash_key, spec.range_key} | {k for i in spec.indexes
                                                  for k in (i.hash_key, i.range_key)}
        assert {a["name"] for a in t["attributes"]} == keys - {None}


def test_the_indexes_the_platform_queries_are_deployed(deployed: Deployed):
    """The orphan scanner queries workflow-state by status and the session list queries
    trading-heartbeats by owner (a Scan of either read every item): both GSIs exist, with
    all attributes projected (the readers use whole items)."""
    for table, index, key in (("workflow-state", "by-status", "status"),
                              ("trading-heartbeats", "by-owner", "owner")):
        t = deployed.one("aws:dynamodb/table:Table", deployed.name(table)).inputs
        [gsi] = [i for i in t["globalSecondaryIndexes"] if i["name"] == index]
        assert gsi["hashKey"] == key and gsi["projectionType"] == "ALL"
        assert {"name": key, "type": "S"} in t["attributes"]


def test_secrets_topics_buckets_and_alarms(deployed: Deployed):
    topo = deployed.topo
    secrets = {s.inputs["name"] for s in deployed.of_type("aws:secretsmanager/secret:Secret")}
    assert secrets == {deployed.name(s.name) for s in topo.secrets}
    topics = {t.inputs["name"] for t in deployed.of_type("aws:sns/topic:Topic")}
    assert topics == {deployed.name(t.name) for t in topo.topics}
    # Unique per account and region: the spec name, the account, the region.
    buckets = {b.inputs["bucket"] for b in deployed.of_type("aws:s3/bucket:Bucket")}
    assert buckets == {f"{deployed.name(b)}-{ACCOUNT}-eu-central-1"
                       for b in [*(b.name for b in topo.buckets), "cloudtrail"]}
    assert {a.inputs["name"] for a in deployed.of_type(ALARM)} == \
        {deployed.name(a.name) for a in topo.alarms}
    for spec in topo.alarms:
        assert_alarm_as_spec(deployed, spec)
    trail = deployed.of_type("aws:cloudtrail/trail:Trail")[0]
    assert trail.inputs["s3BucketName"] == \
        deployed.one("aws:s3/bucket:Bucket", deployed.name("cloudtrail")).id


def assert_alarm_as_spec(deployed: Deployed, spec: Alarm) -> None:
    """Every setting the spec gives an alarm (or defaults to) is deployed, nothing else: a
    setting the program drops, changes or adds fails here."""
    alarm = deployed.one(ALARM, deployed.name(spec.name))
    topic = deployed.one("aws:sns/topic:Topic", deployed.name(spec.topic))
    if spec.queue is not None:
        dimensions = {"QueueName": deployed.name(spec.queue)}
    else:
        alb = deployed.one("aws:lb/loadBalancer:LoadBalancer", deployed.name("alb"))
        group = deployed.one("aws:lb/targetGroup:TargetGroup",
                             deployed.name(f"tg-{spec.target_group}"))
        dimensions = {"TargetGroup": mock_arn_suffix(group.typ, group.name),
                      "LoadBalancer": mock_arn_suffix(alb.typ, alb.name)}
    expected = {
        "namespace": spec.namespace, "metricName": spec.metric, "dimensions": dimensions,
        ("extendedStatistic" if spec.is_percentile else "statistic"): spec.statistic,
        "period": spec.period, "evaluationPeriods": spec.evaluation_periods,
        "datapointsToAlarm": spec.datapoints_to_alarm or spec.evaluation_periods,
        "threshold": spec.threshold, "comparisonOperator": spec.comparison,
        "treatMissingData": spec.treat_missing_data,
        "alarmActions": [topic.arn], "okActions": [topic.arn],
    }
    deployed_settings = {k: v for k, v in alarm.inputs.items() if k not in ("name", "tags")}
    assert deployed_settings == expected, spec.name


def test_alarm_settings_other_than_the_defaults_are_deployed(topo: Topology, settings: Any):
    """The spec's alarms mostly use the defaults; one with every setting changed (percentile,
    5-minute period, 2 of 4, <=, breaching) must reach the program's alarm unchanged."""
    from tradai_infra.program import deploy

    odd = topo.alarms[0].model_copy(update={
        "name": "odd-alarm", "statistic": "p99.5", "period": 300, "evaluation_periods": 4,
        "datapoints_to_alarm": 2, "comparison": "LessThanOrEqualToThreshold",
        "threshold": 7.5, "treat_missing_data": "breaching"})
    health = next(a for a in topo.alarms if a.target_group is not None)
    changed = topo.model_copy(update={"alarms": [odd, health]})
    deployed = Deployed(run_program(lambda: deploy(settings, changed)), changed)
    assert len(deployed.of_type(ALARM)) == 2
    for spec in changed.alarms:
        assert_alarm_as_spec(deployed, spec)


def test_database_matches_spec(deployed: Deployed):
    spec = deployed.topo.database
    db = deployed.one("aws:rds/instance:Instance", deployed.name(spec.name)).inputs
    assert (db["engine"], db["engineVersion"], db["instanceClass"]) == \
        (spec.engine, spec.engine_version, spec.instance_class)
    assert db["allocatedStorage"] == spec.allocated_storage
    group = deployed.of_type("aws:rds/subnetGroup:SubnetGroup")[0]
    assert db["dbSubnetGroupName"] == group.inputs["name"]
    database_subnets = {
        deployed.one("aws:ec2/subnet:Subnet", deployed.name(f"database-{az.name}")).id
        for az in deployed.topo.network.azs
    }
    assert set(group.inputs["subnetIds"]) == database_subnets


def test_drift_detector_knows_its_stack_and_alert_topic(deployed: Deployed):
    fn = deployed.one(FN, deployed.name("pulumi-drift-detector"))
    env = fn.inputs["environment"]["variables"]
    alerts = deployed.one("aws:sns/topic:Topic", deployed.name("alerts"))
    assert env["TRADAI_PULUMI_STACK"] == "dev"
    assert env["TRADAI_ALERTS_TOPIC_ARN"] == alerts.arn
