"""Security invariants over everything the program declares."""

from __future__ import annotations

import json

from tests.infra.conftest import Deployed
from tests.infra.mocks import mock_password, secret_value

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

# Actions AWS offers only on Resource "*" (no resource-level permissions).
STAR_RESOURCE_ALLOWED = {
    "ecr:GetAuthorizationToken", "ecs:ListTasks", "ec2:DescribeInstances",
    "ec2:DescribeRouteTables", "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    # the FIS role (fis_permissions): describe calls, tag lookup, and the API-error injection
    # that only its condition keys (ec2:FisActionId, ec2:FisTargetArns) can scope
    "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeNetworkAcls",
    "ec2:DescribeManagedPrefixLists", "autoscaling:DescribeAutoScalingGroups",
    "tag:GetResources", "ec2:InjectApiError",
    # trading sessions (permissions.session_statements): the task-definition calls take no
    # resource; PutMetricData is scoped by its cloudwatch:namespace condition
    "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition",
    "cloudwatch:PutMetricData",
    # the operator's role (groups.py): FIS's List calls take no resource
    "fis:ListExperiments", "fis:ListExperimentTemplates",
}


def _as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def test_no_iam_statement_is_a_wildcard(deployed: Deployed):
    policies = list(deployed.policies())
    # Lambdas, services, state machines at least
    assert len(policies) >= len(deployed.lambdas) + 4 + len(deployed.state_machines)
    for resource, doc in policies:
        for stmt in doc["Statement"]:
            actions, resources = _as_list(stmt["Action"]), _as_list(stmt["Resource"])
            assert stmt["Effect"] == "Allow"
            assert not any(a == "*" or a.endswith(":*") for a in actions), (resource.name, stmt)
            if "*" in resources:
                # Only actions that AWS cannot scope may use Resource "*".
                assert set(actions) <= STAR_RESOURCE_ALLOWED, (resource.name, stmt)
            assert resources, (resource.name, stmt)


def test_each_lambda_has_its_own_role_scoped_to_its_queue(deployed: Deployed):
    fns = deployed.of_type("aws:lambda/function:Function")
    assert len({f.inputs["role"] for f in fns}) == len(fns)
    for spec in deployed.lambdas:
        fn = deployed.one("aws:lambda/function:Function", deployed.name(spec.name))
        [role] = [r for r in deployed.of_type("aws:iam/role:Role")
                  if f"arn:aws:mock:aws:iam/role:Role/{r.name}" == fn.inputs["role"]]
        assert "lambda.amazonaws.com" in role.inputs["assumeRolePolicy"]
        doc = deployed.role_policy(role)
        receive = [s for s in doc["Statement"] if "sqs:ReceiveMessage" in s["Action"]]
        if spec.trigger.type == "sqs":
            queue = deployed.one("aws:sqs/queue:Queue", deployed.name(spec.trigger.queue))
            assert [s["Resource"] for s in receive] == [[queue.arn]], spec.name
        else:
            assert receive == [], spec.name


def test_no_bucket_can_be_public(deployed: Deployed):
    buckets = deployed.of_type("aws:s3/bucket:Bucket")
    blocks = deployed.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for bucket in buckets:
        assert "acl" not in bucket.inputs, bucket.name
        [block] = [b for b in blocks if b.inputs["bucket"] == bucket.id]
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                     "restrictPublicBuckets"):
            assert block.inputs[flag] is True, (bucket.name, flag)
        [owner] = deployed.where("aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                                 bucket=bucket.id)
        assert owner.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        [versioning] = deployed.where("aws:s3/bucketVersioning:BucketVersioning", bucket=bucket.id)
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    for policy in deployed.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        for stmt in json.loads(policy.inputs["policy"])["Statement"]:
            assert stmt["Principal"] != "*" and stmt["Principal"].get("AWS") != "*"
    assert deployed.of_type("aws:s3/bucketAcl:BucketAcl") == []


def test_encryption_at_rest_everywhere(deployed: Deployed):
    sse = deployed.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    for bucket in deployed.of_type("aws:s3/bucket:Bucket"):
        [config] = [c for c in sse if c.inputs["bucket"] == bucket.id]
        default = config.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] in ("aws:kms", "AES256"), bucket.name
    for table in deployed.of_type("aws:dynamodb/table:Table"):
        assert table.inputs["serverSideEncryption"] == {"enabled": True}, table.name
    for queue in deployed.of_type("aws:sqs/queue:Queue"):
        assert queue.inputs["sqsManagedSseEnabled"] is True, queue.name
    for topic in deployed.of_type("aws:sns/topic:Topic"):
        assert topic.inputs["kmsMasterKeyId"], topic.name
    for db in deployed.of_type("aws:rds/instance:Instance"):
        assert db.inputs["storageEncrypted"] is True


def test_database_is_private_and_password_never_in_state(deployed: Deployed):
    [db] = deployed.of_type("aws:rds/instance:Instance")
    assert db.inputs["publiclyAccessible"] is False
    # The generated password of the spec's database secret (secret in the state), not an
    # RDS-managed one whose rotation MLflow would not see (database.py).
    assert not db.inputs.get("manageMasterUserPassword")
    assert secret_value(db.inputs["password"]) == \
        mock_password(deployed.name("mlflow-database-password"))
    rds_sg = deployed.one(SG, deployed.name("sg-rds"))
    assert db.inputs["vpcSecurityGroupIds"] == [rds_sg.id]
    sources = [(r.inputs.get("referencedSecurityGroupId"), r.inputs["fromPort"])
               for r in deployed.where(INGRESS, securityGroupId=rds_sg.id)]
    assert sources == [(deployed.one(SG, deployed.name("sg-mlflow")).id, 5432)]


def _ingress(deployed: Deployed, group: str) -> list[dict]:
    sg = deployed.one(SG, deployed.name(f"sg-{group}"))
    return [r.inputs for r in deployed.where(INGRESS, securityGroupId=sg.id)]


def test_service_groups_admit_only_security_groups_on_their_port(deployed: Deployed):
    alb = deployed.one(SG, deployed.name("sg-alb")).id
    for spec in deployed.topo.services:
        rules = _ingress(deployed, spec.name)
        assert rules, spec.name
        for rule in rules:
            assert "cidrIpv4" not in rule and "cidrIpv6" not in rule, (spec.name, rule)
            assert rule["referencedSecurityGroupId"], (spec.name, rule)
            assert (rule["fromPort"], rule["toPort"]) == (spec.port, spec.port), spec.name
        sources = {r["referencedSecurityGroupId"] for r in rules}
        assert (alb in sources) == spec.load_balanced, spec.name
    # The public entry point, backend-api, is reachable from the ALB and, on the same port,
    # the health-check probe (test_vpc_endpoints) and nothing else.
    probes = deployed.one(SG, deployed.name("sg-health-probes")).id
    assert {r["referencedSecurityGroupId"] for r in _ingress(deployed, "backend-api")} == \
        {alb, probes}
    # The ALB itself only from the API Gateway VPC Link.
    link = deployed.one(SG, deployed.name("sg-vpc-link")).id
    assert [(r["referencedSecurityGroupId"], r["fromPort"]) for r in _ingress(deployed, "alb")] \
        == [(link, 80)]


def test_communication_matrix_flows_exist(deployed: Deployed):
    def sg(n: str) -> str:
        return deployed.one(SG, deployed.name(f"sg-{n}")).id

    def admits(target: str, source: str) -> bool:
        return any(r["referencedSecurityGroupId"] == sg(source) for r in _ingress(deployed, target))

    assert admits("mlflow", "backend-api") and admits("data-collection", "backend-api")
    assert admits("mlflow", "tasks") and admits("data-collection", "lambdas")
    assert not admits("data-collection", "tasks")  # containers read ArcticDB directly


def test_lambdas_in_vpc_use_private_subnets(deployed: Deployed):
    private = {deployed.one("aws:ec2/subnet:Subnet", deployed.name(f"private-{az.name}")).id
               for az in deployed.topo.network.azs}
    from tradai.topology.flows import mlflow_client_functions as client_functions

    lambda_sg = deployed.one(SG, deployed.name("sg-lambdas")).id
    mlflow_clients = deployed.one(SG, deployed.name("sg-mlflow-clients")).id
    probes = deployed.one(SG, deployed.name("sg-health-probes")).id
    for fn in deployed.of_type("aws:lambda/function:Function"):
        if "vpcConfig" in fn.inputs:
            assert set(fn.inputs["vpcConfig"]["subnetIds"]) == private
            calls_mlflow = fn.inputs["name"] in {deployed.name(n)
                                                 for n in client_functions(deployed.topo)}
            probe = fn.inputs["name"] == deployed.name("health-check")
            assert fn.inputs["vpcConfig"]["securityGroupIds"] == \
                [lambda_sg, *([mlflow_clients] if calls_mlflow else []),
                 *([probes] if probe else [])], fn.name


def test_database_nacl_admits_only_postgres_from_private_subnets(deployed: Deployed):
    acl = deployed.one("aws:ec2/networkAcl:NetworkAcl", deployed.name("database-nacl")).inputs
    private = {az.private for az in deployed.topo.network.azs}
    assert {(r["cidrBlock"], r["fromPort"], r["toPort"]) for r in acl["ingress"]} == \
        {(c, 5432, 5432) for c in private}


def _lambda_actions(deployed: Deployed) -> dict[str, dict[str, set[str]]]:
    """Per Lambda: action -> the resources it may act on."""
    out: dict[str, dict[str, set[str]]] = {}
    roles = deployed.of_type("aws:iam/role:Role")
    for spec in deployed.lambdas:
        fn = deployed.one("aws:lambda/function:Function", deployed.name(spec.name))
        [role] = [r for r in roles if f"arn:aws:mock:aws:iam/role:Role/{r.name}"
                  == fn.inputs["role"]]
        actions: dict[str, set[str]] = {}
        for stmt in deployed.role_policy(role)["Statement"]:
            for action in _as_list(stmt["Action"]):
                actions.setdefault(action, set()).update(_as_list(stmt["Resource"]))
        out[spec.name] = actions
    return out


def test_powerful_lambda_actions_belong_to_the_functions_that_need_them(deployed: Deployed):
    """Stated independently of tradai_infra.permissions, from the architecture's data flows."""
    acts = _lambda_actions(deployed)

    def holders(action: str) -> dict[str, set[str]]:
        return {n: a[action] for n, a in acts.items() if action in a}

    def deployed_only(expected: dict[str, set[str]]) -> dict[str, set[str]]:
        """The expectation for the functions deployed (the model lifecycle's come later)."""
        return {n: v for n, v in expected.items() if n not in deployed.unbuilt}

    def queue(n: str) -> str:
        return deployed.one("aws:sqs/queue:Queue", deployed.name(n)).arn

    def machine(n: str) -> str:
        return f"arn:aws:states:eu-central-1:123456789012:stateMachine:{deployed.name(n)}"

    assert holders("states:StartExecution") == deployed_only({
        "backtest-consumer": {machine("backtest-workflow")},
        "sqs-consumer": {machine("retraining-workflow")},
    })
    assert holders("sqs:SendMessage") == deployed_only({
        "retraining-scheduler": {queue("retraining-queue.fifo")},
        # re-sends a job still waiting for capacity instead of dead-lettering it
        "backtest-consumer": {queue("backtest-queue.fifo")},
        # the comparison's two backtests, submitted as the backend submits them
        "compare-models": {queue("backtest-queue.fifo")},
        # a ticket still QUEUED a minute after it was recorded may never have been sent
        "orphan-scanner": {queue("backtest-queue.fifo")}})
    assert holders("sqs:DeleteMessage") == deployed_only({
        "backtest-consumer": {queue("backtest-queue.fifo")},
        "sqs-consumer": {queue("retraining-queue.fifo")},
    })
    assert set(holders("ecs:StopTask")) == {"orphan-scanner", "cleanup-resources"}
    assert set(holders("ec2:ReplaceRoute")) == {"update-nat-routes"}
    assert set(holders("autoscaling:CompleteLifecycleAction")) == {"update-nat-routes"}
    assert set(holders("secretsmanager:GetSecretValue")) <= {
        "drift-monitor", "validate-strategy", "notify-completion", "compare-models",
        "promote-model", "model-rollback", "retraining-scheduler", "check-retraining-needed"}
    # Functions outside the VPC must not hold ENI permissions they do not need.
    assert {n for n in holders("ec2:CreateNetworkInterface")} == \
        {f.name for f in deployed.lambdas if f.in_vpc}
