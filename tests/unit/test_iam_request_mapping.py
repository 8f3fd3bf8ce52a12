"""Each AWS call the platform makes (boto3 in platform/, ArcticDB's and MLflow's S3 calls) maps
to the IAM action and resource ARN AWS authorises, per the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/
reference_policies_actions-resources-contextkeys.html), with the condition keys the
platform's policies use."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest

from tradai_sim.cloud.iam_enforcement.actions import Request, map_request

A, R = "123456789012", "eu-central-1"
TABLE = f"arn:aws:dynamodb:{R}:{A}:table/tradai-local-workflow-state"
QUEUE_URL = f"http://127.0.0.1:4566/{A}/tradai-local-backtest-queue.fifo"
QUEUE = f"arn:aws:sqs:{R}:{A}:tradai-local-backtest-queue.fifo"
DLQ = f"arn:aws:sqs:{R}:{A}:tradai-local-backtest-dlq.fifo"
TOPIC = f"arn:aws:sns:{R}:{A}:tradai-local-alerts"
SECRET = f"arn:aws:secretsmanager:{R}:{A}:secret:tradai-local-mlflow-runner-AbCdEf"
MACHINE = f"arn:aws:states:{R}:{A}:stateMachine:tradai-local-backtest-workflow"
EXECUTION = f"arn:aws:states:{R}:{A}:execution:tradai-local-backtest-workflow:job-1"
CLUSTER = f"arn:aws:ecs:{R}:{A}:cluster/tradai-local"
TD = f"arn:aws:ecs:{R}:{A}:task-definition/tradai-local-strategy:3"
TASK_ROLE = f"arn:aws:iam::{A}:role/tradai-local-strategy-task"
EXEC_ROLE = f"arn:aws:iam::{A}:role/tradai-local-ecs-execution"
GROUP = (f"arn:aws:autoscaling:{R}:{A}:autoScalingGroup:1234:autoScalingGroupName/"
         "tradai-local-nat")


class FakeLookups:
    account_id = A

    def secret_arn(self, region: str, secret_id: str) -> str | None:
        return SECRET if secret_id in ("tradai-local-mlflow-runner", SECRET) else None

    def task_definition(self, region: str, family: str, revision: int | None) -> Any:
        if family != "tradai-local-strategy":
            return None
        return SimpleNamespace(arn=TD, task_role_arn=TASK_ROLE, execution_role_arn=EXEC_ROLE)

    def instance_tags(self, region: str, instance_id: str) -> dict[str, str] | None:
        return {"Name": "tradai-local-nat"} if instance_id == "i-nat" else {}

    def group(self, region: str, name: str) -> tuple[str, dict[str, str]] | None:
        return (GROUP, {}) if name == "tradai-local-nat" else None


def checks(service: str, operation: str, params: dict[str, Any],
           headers: dict[str, str] | None = None, body: bytes | None = None) -> list[tuple]:
    mapped = map_request(Request(service, operation, R, A, params, headers or {},
                                 lambda: body), FakeLookups())  # type: ignore[arg-type]
    assert mapped.unresolved is None, mapped.unresolved
    return [(c.action, c.resource, c.context) for c in mapped.checks]


def plain(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a, r) for a, r, _ in checks(service, operation, params)]


@pytest.mark.parametrize(("service", "operation", "params", "expected"), [
    # DynamoDB: the table, or its index
    ("dynamodb", "GetItem", {"TableName": "tradai-local-workflow-state"},
     [("dynamodb:GetItem", TABLE)]),
    ("dynamodb", "PutItem", {"TableName": "tradai-local-workflow-state"},
     [("dynamodb:PutItem", TABLE)]),
    ("dynamodb", "UpdateItem", {"TableName": TABLE}, [("dynamodb:UpdateItem", TABLE)]),
    ("dynamodb", "DeleteItem", {"TableName": "tradai-local-workflow-state"},
     [("dynamodb:DeleteItem", TABLE)]),
    ("dynamodb", "Query", {"TableName": "tradai-local-workflow-state", "IndexName": "by-owner"},
     [("dynamodb:Query", TABLE + "/index/by-owner")]),
    ("dynamodb", "Scan", {"TableName": "tradai-local-workflow-state"},
     [("dynamodb:Scan", TABLE)]),
    ("dynamodb", "BatchGetItem", {"RequestItems": {"tradai-local-workflow-state": {}}},
     [("dynamodb:BatchGetItem", TABLE)]),
    ("dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Put": {"TableName": "tradai-local-workflow-state"}},
        {"ConditionCheck": {"TableName": "tradai-local-workflow-state"}}]},
     [("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE)]),
    # SQS (JSON protocol): the queue URL as the queue's ARN; batch calls as their action
    ("sqs", "SendMessage", {"QueueUrl": QUEUE_URL}, [("sqs:SendMessage", QUEUE)]),
    ("sqs", "SendMessageBatch", {"QueueUrl": QUEUE_URL}, [("sqs:SendMessage", QUEUE)]),
    ("sqs", "ReceiveMessage", {"QueueUrl": QUEUE_URL}, [("sqs:ReceiveMessage", QUEUE)]),
    ("sqs", "DeleteMessageBatch", {"QueueUrl": QUEUE_URL}, [("sqs:DeleteMessage", QUEUE)]),
    ("sqs", "ChangeMessageVisibility", {"QueueUrl": QUEUE_URL},
     [("sqs:ChangeMessageVisibility", QUEUE)]),
    ("sqs", "GetQueueAttributes", {"QueueUrl": QUEUE_URL}, [("sqs:GetQueueAttributes", QUEUE)]),
    ("sqs", "GetQueueUrl", {"QueueName": "tradai-local-backtest-queue.fifo"},
     [("sqs:GetQueueUrl", QUEUE)]),
    ("sqs", "ListDeadLetterSourceQueues", {"QueueUrl": QUEUE_URL},
     [("sqs:ListDeadLetterSourceQueues", QUEUE)]),
    ("sqs", "StartMessageMoveTask", {"SourceArn": DLQ}, [("sqs:StartMessageMoveTask", DLQ)]),
    ("sqs", "ListMessageMoveTasks", {"SourceArn": DLQ}, [("sqs:ListMessageMoveTasks", DLQ)]),
    ("sqs", "CancelMessageMoveTask", {"TaskHandle": base64.b64encode(json.dumps(
        {"taskId": "t", "sourceArn": DLQ}).encode()).decode()},
     [("sqs:CancelMessageMoveTask", DLQ)]),
    # SNS, Secrets Manager (a name as the secret's full ARN), Step Functions
    ("sns", "Publish", {"TopicArn": TOPIC}, [("sns:Publish", TOPIC)]),
    ("sns", "PublishBatch", {"TopicArn": TOPIC}, [("sns:Publish", TOPIC)]),
    ("secretsmanager", "GetSecretValue", {"SecretId": "tradai-local-mlflow-runner"},
     [("secretsmanager:GetSecretValue", SECRET)]),
    ("secretsmanager", "GetSecretValue", {"SecretId": SECRET},
     [("secretsmanager:GetSecretValue", SECRET)]),
    ("secretsmanager", "DescribeSecret", {"SecretId": "tradai-local-exchange-credentials"},
     [("secretsmanager:DescribeSecret",
       f"arn:aws:secretsmanager:{R}:{A}:secret:tradai-local-exchange-credentials")]),
    ("states", "StartExecution", {"stateMachineArn": MACHINE},
     [("states:StartExecution", MACHINE)]),
    ("states", "DescribeExecution", {"executionArn": EXECUTION},
     [("states:DescribeExecution", EXECUTION)]),
    ("states", "StopExecution", {"executionArn": EXECUTION},
     [("states:StopExecution", EXECUTION)]),
    # Lambda (REST): Invoke is lambda:InvokeFunction on the function's ARN
    ("lambda", "Invoke", {"FunctionName": "tradai-local-backtest-consumer"},
     [("lambda:InvokeFunction",
       f"arn:aws:lambda:{R}:{A}:function:tradai-local-backtest-consumer")]),
    ("lambda", "Invoke", {"FunctionName": "tradai-local-f", "Qualifier": "live"},
     [("lambda:InvokeFunction", f"arn:aws:lambda:{R}:{A}:function:tradai-local-f:live")]),
    # ECS
    ("ecs", "DescribeTaskDefinition", {"taskDefinition": "tradai-local-strategy"},
     [("ecs:DescribeTaskDefinition", "*")]),
    ("ecs", "RegisterTaskDefinition", {"family": "x"}, [("ecs:RegisterTaskDefinition", "*")]),
    ("ecs", "DeregisterTaskDefinition", {"taskDefinition": "x:2"},
     [("ecs:DeregisterTaskDefinition", "*")]),
    ("ecs", "CreateService", {"cluster": "tradai-local", "serviceName": "tradai-local-session-a"},
     [("ecs:CreateService", f"arn:aws:ecs:{R}:{A}:service/tradai-local/tradai-local-session-a")]),
    ("ecs", "UpdateService", {"cluster": CLUSTER, "service": "tradai-local-session-a"},
     [("ecs:UpdateService", f"arn:aws:ecs:{R}:{A}:service/tradai-local/tradai-local-session-a")]),
    ("ecs", "DeleteService", {"cluster": "tradai-local", "service": "s"},
     [("ecs:DeleteService", f"arn:aws:ecs:{R}:{A}:service/tradai-local/s")]),
    ("ecs", "StopTask", {"cluster": "tradai-local", "task": "abc"},
     [("ecs:StopTask", f"arn:aws:ecs:{R}:{A}:task/tradai-local/abc")]),
    ("ecs", "DescribeTasks", {"cluster": CLUSTER, "tasks": ["abc", f"arn:aws:ecs:{R}:{A}:task/"
                                                                 "tradai-local/def"]},
     [("ecs:DescribeTasks", f"arn:aws:ecs:{R}:{A}:task/tradai-local/abc"),
      ("ecs:DescribeTasks", f"arn:aws:ecs:{R}:{A}:task/tradai-local/def")]),
    ("ecs", "ListTasks", {"cluster": "tradai-local"}, [("ecs:ListTasks", "*")]),
    # EC2 and Auto Scaling (the NAT hook)
    ("ec2", "DescribeRouteTables", {}, [("ec2:DescribeRouteTables", "*")]),
    ("ec2", "DescribeInstances", {}, [("ec2:DescribeInstances", "*")]),
    ("ec2", "ReplaceRoute", {"RouteTableId": "rtb-1"},
     [("ec2:ReplaceRoute", f"arn:aws:ec2:{R}:{A}:route-table/rtb-1")]),
    ("ec2", "CreateRoute", {"RouteTableId": "rtb-1"},
     [("ec2:CreateRoute", f"arn:aws:ec2:{R}:{A}:route-table/rtb-1")]),
    ("autoscaling", "CompleteLifecycleAction", {"AutoScalingGroupName": "tradai-local-nat"},
     [("autoscaling:CompleteLifecycleAction", GROUP)]),
    # CloudWatch, Cognito
    ("monitoring", "GetMetricStatistics", {"Namespace": "AWS/SQS"},
     [("cloudwatch:GetMetricStatistics", "*")]),
    ("cognito-idp", "ListUserPools", {}, [("cognito-idp:ListUserPools", "*")]),
    ("cognito-idp", "ListUserPoolClients", {"UserPoolId": "eu-central-1_x"},
     [("cognito-idp:ListUserPoolClients", f"arn:aws:cognito-idp:{R}:{A}:userpool/"
                                          "eu-central-1_x")]),
    # S3 (REST; what ArcticDB and MLflow's artifact store call too)
    ("s3", "GetObject", {"Bucket": "b", "Key": "k/1"}, [("s3:GetObject", "arn:aws:s3:::b/k/1")]),
    ("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
    ("s3", "GetObject", {"Bucket": "b", "Key": "k", "versionId": "v"},
     [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
    ("s3", "PutObject", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("s3", "CreateMultipartUpload", {"Bucket": "b", "Key": "k"},
     [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("s3", "UploadPart", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("s3", "CompleteMultipartUpload", {"Bucket": "b", "Key": "k"},
     [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("s3", "DeleteObject", {"Bucket": "b", "Key": "k"}, [("s3:DeleteObject", "arn:aws:s3:::b/k")]),
    ("s3", "ListObjectsV2", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("s3", "ListObjects", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("s3", "HeadBucket", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("s3", "ListBuckets", {}, [("s3:ListAllMyBuckets", "*")]),
])
def test_platform_calls_map_to_aws_actions_and_resources(
        service: str, operation: str, params: dict[str, Any],
        expected: list[tuple[str, str]]) -> None:
    assert plain(service, operation, params) == expected


def test_delete_objects_is_delete_object_on_each_key() -> None:
    body = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/1</Key>'
            b"</Object><Object><Key>b</Key></Object></Delete>")
    got = checks("s3", "DeleteObjects", {"Bucket": "arctic"}, body=body)
    assert [(a, r) for a, r, _ in got] == [("s3:DeleteObject", "arn:aws:s3:::arctic/a/1"),
                                            ("s3:DeleteObject", "arn:aws:s3:::arctic/b")]


def test_copy_object_needs_put_on_the_target_and_get_on_the_source() -> None:
    got = checks("s3", "CopyObject", {"Bucket": "b", "Key": "new"},
                 {"x-amz-copy-source": "/src/old"})
    assert [(a, r) for a, r, _ in got] == [("s3:PutObject", "arn:aws:s3:::b/new"),
                                            ("s3:GetObject", "arn:aws:s3:::src/old")]


def test_list_bucket_supplies_s3_prefix() -> None:
    assert checks("s3", "ListObjectsV2", {"Bucket": "b", "prefix": "p/"})[0][2] == {
        "s3:prefix": ("p/",)}
    assert checks("s3", "ListObjectsV2", {"Bucket": "b"})[0][2] == {"s3:prefix": None}


def test_run_task_is_judged_on_the_revision_with_the_cluster_and_passes_its_roles() -> None:
    """RunTask names a task definition revision and the ecs:cluster key; running it passes
    the task and execution roles to ECS (iam:PassRole, iam:PassedToService)."""
    got = checks("ecs", "RunTask", {"cluster": "tradai-local",
                                    "taskDefinition": "tradai-local-strategy"})
    assert got[0] == ("ecs:RunTask", TD, {"ecs:cluster": (CLUSTER,)})
    passed = sorted((a, r, c["iam:passedtoservice"]) for a, r, c in got[1:])
    assert passed == [("iam:PassRole", EXEC_ROLE, ("ecs-tasks.amazonaws.com",)),
                      ("iam:PassRole", TASK_ROLE, ("ecs-tasks.amazonaws.com",))]


def test_ecs_calls_in_a_cluster_carry_the_cluster_key() -> None:
    for op, params in (("StopTask", {"task": "t"}), ("ListTasks", {}),
                       ("CreateService", {"serviceName": "s"})):
        got = checks("ecs", op, {"cluster": "tradai-local", **params})
        assert got[0][2] == {"ecs:cluster": (CLUSTER,)}, op


def test_put_metric_data_supplies_the_namespace() -> None:
    assert checks("monitoring", "PutMetricData", {"Namespace": "TradAI/Trading"}) == [
        ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ("TradAI/Trading",)})]


def test_modify_instance_attribute_supplies_the_instances_tags() -> None:
    mapped = map_request(Request("ec2", "ModifyInstanceAttribute", R, A,
                                 {"InstanceId": "i-nat"}), FakeLookups())  # type: ignore
    check = mapped.checks[0]
    assert (check.action, check.resource) == ("ec2:ModifyInstanceAttribute",
                                              f"arn:aws:ec2:{R}:{A}:instance/i-nat")
    assert check.context["aws:resourcetag/name"] == ("tradai-local-nat",)
    assert "aws:resourcetag/" in check.known_prefixes  # other tags: known absent


def test_public_calls_need_no_permission_and_unknown_ones_are_unresolved() -> None:
    assert map_request(Request("sts", "GetCallerIdentity", R, A, {}),
                       FakeLookups()).checks == []  # type: ignore[arg-type]
    for service, op in (("ses", "SendEmail"), ("sqs", "SendMessage"), ("ec2", "RunInstances")):
        mapped = map_request(Request(service, op, R, A, {}), FakeLookups())  # type: ignore
        assert mapped.unresolved and not mapped.checks, (service, op)
