"""IAM enforced by the local cloud: a call signed with an assumed role's credentials that the
role's policy does not allow is refused with the service's own access-denied error and AWS's
message; an allowed call is served; the harness's administrator key is never judged.

Runs the emulator (moto's server with the request interceptors) in this process, with the
enforcer in ``enforce`` mode.

- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html (message)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tradai_sim.cloud import emulator
from tradai_sim.cloud.iam_enforcement.interceptor import IamEnforcer

ACCOUNT = "123456789012"
REGION = "eu-central-1"
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ROLE = "tradai-conf-iam-fn"
SFN_DEF = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [])
    return [b""]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    env = pytest.MonkeyPatch()
    env.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    server = emulator.EmulatorServer("127.0.0.1", 0, _not_found)
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    env.undo()


@pytest.fixture(scope="module")
def enforcer() -> Iterator[IamEnforcer]:
    found = IamEnforcer(ACCOUNT, "enforce")
    emulator.request_interceptors.insert(0, found)
    yield found
    emulator.request_interceptors.remove(found)


def client(endpoint: str, service: str, creds: dict[str, str] | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(retries={"total_max_attempts": 1}), **(creds or ADMIN))


@pytest.fixture(scope="module")
def world(endpoint: str, enforcer: IamEnforcer) -> dict[str, Any]:
    """Resources made with the administrator key, and a role allowed one call on each."""
    ddb = client(endpoint, "dynamodb")
    ddb.create_table(TableName="conf-t", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    queue = client(endpoint, "sqs").create_queue(QueueName="conf-q")["QueueUrl"]
    client(endpoint, "s3").create_bucket(
        Bucket="conf-b", CreateBucketConfiguration={"LocationConstraint": REGION})
    client(endpoint, "s3").put_object(Bucket="conf-b", Key="in/x", Body=b"x")
    secret = client(endpoint, "secretsmanager").create_secret(
        Name="conf-s", SecretString="v")["ARN"]
    topic = client(endpoint, "sns").create_topic(Name="conf-topic")["TopicArn"]
    iam = client(endpoint, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"]["Arn"]
    machine = client(endpoint, "stepfunctions").create_state_machine(
        name="conf-sm", definition=SFN_DEF, roleArn=role_arn)["stateMachineArn"]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/conf-t"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table},
        {"Effect": "Allow", "Action": "sqs:SendMessage",
         "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:conf-q"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::conf-b/in/*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         # the name with AWS's 6-character suffix, as policies name a secret
         "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:conf-s-??????"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine},
    ]}
    iam.put_role_policy(RoleName=ROLE, PolicyName="tradai-access",
                        PolicyDocument=json.dumps(policy))
    creds = client(endpoint, "sts").assume_role(RoleArn=role_arn, RoleSessionName="conf")[
        "Credentials"]
    return {"queue": queue, "secret": secret, "topic": topic, "machine": machine,
            "table": table,
            "creds": {"aws_access_key_id": creds["AccessKeyId"],
                      "aws_secret_access_key": creds["SecretAccessKey"],
                      "aws_session_token": creds["SessionToken"]}}


def denied(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"], \
        resp["Error"]["Message"]


def user(world: dict[str, Any]) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/conf"


CASES: list[tuple[str, str, Callable[[Any, dict[str, Any]], Any],
                  Callable[[Any, dict[str, Any]], Any], str, int, str, Callable[[dict], str]]] = [
    ("dynamodb", "dynamodb",
     lambda c, w: c.get_item(TableName="conf-t", Key={"k": {"S": "a"}}),
     lambda c, w: c.put_item(TableName="conf-t", Item={"k": {"S": "a"}}),
     "AccessDeniedException", 400, "dynamodb:PutItem", lambda w: w["table"]),
    ("sqs", "sqs",
     lambda c, w: c.send_message(QueueUrl=w["queue"], MessageBody="m"),
     lambda c, w: c.receive_message(QueueUrl=w["queue"]),
     "AccessDenied", 403, "sqs:ReceiveMessage",
     lambda w: f"arn:aws:sqs:{REGION}:{ACCOUNT}:conf-q"),
    ("s3", "s3",
     lambda c, w: c.get_object(Bucket="conf-b", Key="in/x")["Body"].read(),
     lambda c, w: c.put_object(Bucket="conf-b", Key="in/y", Body=b"y"),
     "AccessDenied", 403, "s3:PutObject", lambda w: "arn:aws:s3:::conf-b/in/y"),
    ("secretsmanager", "secretsmanager",
     lambda c, w: c.get_secret_value(SecretId="conf-s"),
     lambda c, w: c.describe_secret(SecretId="conf-s"),
     "AccessDeniedException", 400, "secretsmanager:DescribeSecret", lambda w: w["secret"]),
    ("sns", "sns",
     lambda c, w: c.publish(TopicArn=w["topic"], Message="m"),
     lambda c, w: c.get_topic_attributes(TopicArn=w["topic"]),
     "AuthorizationError", 403, "sns:GetTopicAttributes", lambda w: w["topic"]),
    ("stepfunctions", "states",
     lambda c, w: c.start_execution(stateMachineArn=w["machine"]),
     lambda c, w: c.describe_state_machine(stateMachineArn=w["machine"]),
     "AccessDeniedException", 400, "states:DescribeStateMachine", lambda w: w["machine"]),
]


@pytest.mark.parametrize(("service", "_prefix", "granted", "refused", "code", "status",
                          "action", "resource"), CASES, ids=[c[0] for c in CASES])
def test_a_call_the_policy_does_not_allow_is_access_denied_as_aws_answers_it(
        endpoint: str, world: dict[str, Any], service: str, _prefix: str,
        granted: Callable[[Any, dict[str, Any]], Any],
        refused: Callable[[Any, dict[str, Any]], Any], code: str, status: int, action: str,
        resource: Callable[[dict[str, Any]], str]) -> None:
    """Codes: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
    (AccessDeniedException, 400; likewise Secrets Manager and Step Functions), S3 and SQS
    AccessDenied (403), SNS AuthorizationError (403, its modeled error)."""
    role_client = client(endpoint, service, world["creds"])
    granted(role_client, world)  # allowed: served by moto
    got_code, got_status, text = denied(lambda: refused(role_client, world))
    assert (got_code, got_status) == (code, status)
    assert text == (f"User: {user(world)} is not authorized to perform: {action} on resource: "
                    f"{resource(world)} because no identity-based policy allows the {action} "
                    "action")
    refused(client(endpoint, service), world)  # the administrator key is not judged


def test_explicit_deny_wins_and_a_policy_change_applies_to_the_next_call(
        endpoint: str, world: dict[str, Any], enforcer: IamEnforcer) -> None:
    iam = client(endpoint, "iam")
    ddb = client(endpoint, "dynamodb", world["creds"])
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=ROLE, PolicyName="deny", PolicyDocument=json.dumps(deny))
    try:
        code, _, text = denied(lambda: ddb.get_item(TableName="conf-t",
                                                    Key={"k": {"S": "a"}}))
        assert code == "AccessDeniedException"
        assert text.endswith("with an explicit deny in an identity-based policy")
    finally:
        iam.delete_role_policy(RoleName=ROLE, PolicyName="deny")
    ddb.get_item(TableName="conf-t", Key={"k": {"S": "a"}})


def test_audit_mode_records_the_denial_and_lets_the_call_through(
        endpoint: str, world: dict[str, Any], enforcer: IamEnforcer) -> None:
    enforcer.mode = "audit"
    try:
        client(endpoint, "sqs", world["creds"]).get_queue_attributes(
            QueueUrl=world["queue"], AttributeNames=["All"])
    finally:
        enforcer.mode = "enforce"
    found = [d for d in enforcer.records.snapshot()["denials"]
             if d["action"] == "sqs:GetQueueAttributes"]
    assert found and found[0]["enforced"] is False and found[0]["role"] == ROLE


def test_an_operation_the_mapping_does_not_know_is_allowed_and_recorded(
        endpoint: str, world: dict[str, Any], enforcer: IamEnforcer) -> None:
    """SES is not mapped: the call reaches moto (allow-and-record), and the record names it."""
    ses = client(endpoint, "ses", world["creds"])
    ses.list_identities()
    unjudged = enforcer.records.snapshot()["unjudged"]
    assert any(u["action"] == "ses:ListIdentities" and u["role"] == ROLE for u in unjudged)


def test_ec2_and_cloudwatch_answer_in_their_own_protocols_and_conditions_are_judged(
        endpoint: str, world: dict[str, Any], enforcer: IamEnforcer) -> None:
    """EC2 (its query protocol): Client.UnauthorizedOperation
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/query-api-troubleshooting.html);
    CloudWatch (RPC v2 CBOR): PutMetricData is allowed only in the namespace the
    ``cloudwatch:namespace`` condition names."""
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    code, status, text = denied(lambda: client(endpoint, "ec2", world["creds"]).create_route(
        RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-1"))
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert text.startswith("You are not authorized to perform this operation. User: ")
    assert f"ec2:CreateRoute on resource: arn:aws:ec2:{REGION}:{ACCOUNT}:route-table/{table}" \
        in text
    cw = client(endpoint, "cloudwatch", world["creds"])
    datum = [{"MetricName": "m", "Value": 1.0}]
    code, status, text = denied(lambda: cw.put_metric_data(Namespace="Other", MetricData=datum))
    assert (code, status) == ("AccessDenied", 403)
    assert "cloudwatch:PutMetricData on resource: *" in text
    iam = client(endpoint, "iam")
    grant = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "TradAI/Trading"}}}]}
    iam.put_role_policy(RoleName=ROLE, PolicyName="metrics", PolicyDocument=json.dumps(grant))
    try:
        cw.put_metric_data(Namespace="TradAI/Trading", MetricData=datum)
        assert denied(lambda: cw.put_metric_data(Namespace="Other", MetricData=datum))[0] == \
            "AccessDenied"
    finally:
        iam.delete_role_policy(RoleName=ROLE, PolicyName="metrics")
