"""API error injection: a role's calls to the targeted operations are answered with the
service's own error in its wire protocol, as an SDK holding that role's credentials sees it;
other roles and other operations are untouched. Runs the emulator (moto server with the
request interceptor hook) in this process."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tradai_sim.cloud import emulator
from tradai_sim.cloud.aws_requests import request_info
from tradai_sim.cloud.aws_requests.wire import cbor_map, service_wire
from tradai_sim.cloud.fis.api_faults import ApiFaultRule, ApiFaultRules
from tradai_sim.cloud.fis.interceptor import ApiFaultInterceptor

ACCOUNT = "123456789012"
REGION = "eu-central-1"
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [])
    return [b""]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    env = pytest.MonkeyPatch()
    env.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # as the cloud runs it; then put back
    server = emulator.EmulatorServer("127.0.0.1", 0, _not_found)
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    env.undo()


@pytest.fixture()
def rules() -> Iterator[ApiFaultRules]:
    found = ApiFaultRules()
    interceptor = ApiFaultInterceptor(found, ACCOUNT)
    emulator.request_interceptors.append(interceptor)
    yield found
    emulator.request_interceptors.remove(interceptor)


def client(endpoint: str, service: str, creds: dict[str, str] | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(retries={"total_max_attempts": 1}), **(creds or ADMIN))


def assume(endpoint: str, name: str) -> tuple[str, dict[str, str]]:
    iam = client(endpoint, "iam")
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    creds = client(endpoint, "sts").assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
    return arn, {"aws_access_key_id": creds["AccessKeyId"],
                 "aws_secret_access_key": creds["SecretAccessKey"],
                 "aws_session_token": creds["SessionToken"]}


def rule(role: str, service: str, operations: str, kind: str = "internal",
         percentage: int = 100, seed: int = 1) -> ApiFaultRule:
    return ApiFaultRule(f"r-{service}-{kind}", kind, frozenset({role}), service,
                        frozenset(operations.split(",")), percentage, random.Random(seed),
                        "fis:EXP:A")


def error_of(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    return (err.value.response["Error"]["Code"],
            err.value.response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.fixture(scope="module")
def route_table(endpoint: str) -> str:
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"])


@pytest.mark.parametrize(("kind", "expected"), [
    ("internal", ("InternalError", 500)), ("throttle", ("RequestLimitExceeded", 503)),
    ("unavailable", ("Unavailable", 503))])
def test_targeted_role_gets_ec2_errors_on_targeted_operations_only(
        endpoint: str, rules: ApiFaultRules, route_table: str, kind: str,
        expected: tuple[str, int]) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:fis:inject-api-*-error: errors in the requests made by the target IAM role) and
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (codes)"""
    hook_role, hook = assume(endpoint, "tradai-local-update-nat-routes-fn")
    _, other = assume(endpoint, "tradai-local-backtest-consumer-fn")
    rules.add(rule(hook_role, "ec2", "ReplaceRoute,CreateRoute", kind))
    ec2 = client(endpoint, "ec2", hook)
    create = {"RouteTableId": route_table, "DestinationCidrBlock": "0.0.0.0/0",
              "GatewayId": "igw-1"}
    assert error_of(lambda: ec2.create_route(**create)) == expected
    assert error_of(lambda: ec2.replace_route(**create))[0] == expected[0]
    ec2.describe_route_tables(RouteTableIds=[route_table])  # not a targeted operation
    # Another role's identical call reaches EC2 (which answers with its own validation).
    code, _ = error_of(lambda: client(endpoint, "ec2", other).replace_route(**create))
    assert code not in ("InternalError", "RequestLimitExceeded", "Unavailable")


@pytest.mark.parametrize(("service", "kind", "call", "expected"), [
    ("states", "internal", lambda c: c.start_execution(stateMachineArn="arn:aws:states:"
     "eu-central-1:123456789012:stateMachine:x"), ("InternalFailure", 500)),
    ("states", "throttle", lambda c: c.start_execution(stateMachineArn="arn:aws:states:"
     "eu-central-1:123456789012:stateMachine:x"), ("ThrottlingException", 400)),
    ("dynamodb", "internal", lambda c: c.get_item(TableName="t", Key={"k": {"S": "v"}}),
     ("InternalServerError", 500)),
    ("dynamodb", "throttle", lambda c: c.get_item(TableName="t", Key={"k": {"S": "v"}}),
     ("ThrottlingException", 400)),
    ("sqs", "throttle", lambda c: c.send_message(QueueUrl="http://q/123456789012/q",
                                                 MessageBody="x"), ("RequestThrottled", 400)),
    ("lambda", "internal", lambda c: c.invoke(FunctionName="f"), ("ServiceException", 500)),
    ("lambda", "throttle", lambda c: c.invoke(FunctionName="f"),
     ("TooManyRequestsException", 429)),
    ("sns", "internal", lambda c: c.publish(TopicArn="arn:aws:sns:eu-central-1:123456789012:t",
                                            Message="m"), ("InternalError", 500)),
    ("s3", "throttle", lambda c: c.list_objects_v2(Bucket="b"), ("SlowDown", 503)),
    ("monitoring", "unavailable", lambda c: c.put_metric_data(
        Namespace="n", MetricData=[{"MetricName": "m", "Value": 1.0}]),
     ("ServiceUnavailable", 503)),
])
def test_errors_come_in_each_services_wire_protocol(
        endpoint: str, rules: ApiFaultRules, service: str, kind: str,
        call: Callable[[Any], Any], expected: tuple[str, int]) -> None:
    """The harness variants (tradai:fis:inject-api-*) reach any namespace; each answers as
    that service does (JSON, query, REST-JSON, REST-XML, RPC v2 CBOR), so botocore raises the
    service's own error code."""
    role, creds = assume(endpoint, "tradai-local-backtest-consumer-fn")
    op = {"states": "StartExecution", "dynamodb": "GetItem", "sqs": "SendMessage",
          "lambda": "Invoke", "sns": "Publish", "s3": "ListObjectsV2",
          "monitoring": "PutMetricData"}[service]
    rules.add(rule(role, service, op, kind))
    boto_name = {"states": "stepfunctions", "monitoring": "cloudwatch"}.get(service, service)
    assert error_of(lambda: call(client(endpoint, boto_name, creds))) == expected


def test_percentage_of_calls_fail_with_a_seeded_choice(endpoint: str, rules: ApiFaultRules,
                                                        route_table: str) -> None:
    role, creds = assume(endpoint, "tradai-local-update-nat-routes-fn")
    rules.add(rule(role, "ec2", "DescribeRouteTables", percentage=40, seed=3))
    ec2 = client(endpoint, "ec2", creds)
    failed = 0
    for _ in range(30):
        try:
            ec2.describe_route_tables(RouteTableIds=[route_table])
        except ClientError:
            failed += 1
    rng = random.Random(3)
    assert failed == sum(rng.random() * 100 < 40 for _ in range(30))
    assert 0 < failed < 30


def test_without_rules_every_request_reaches_moto(endpoint: str, rules: ApiFaultRules) -> None:
    _, creds = assume(endpoint, "tradai-local-update-nat-routes-fn")
    assert client(endpoint, "ec2", creds).describe_vpcs()["Vpcs"]


def test_request_info_reads_sigv4_credential_and_operations() -> None:
    environ = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=ASIAX/20261202/eu-central-1/"
                                     "states/aws4_request, SignedHeaders=host, Signature=ab",
               "HTTP_X_AMZ_TARGET": "AWSStepFunctions.StartExecution"}
    who = request_info.caller(environ)
    assert who is not None and (who.access_key, who.service) == ("ASIAX", "states")
    assert request_info.operation(environ, "json", "stepfunctions") == "StartExecution"
    presigned = {"QUERY_STRING": "X-Amz-Credential=AKID%2F20261202%2Feu-central-1%2Fs3%2F"
                                 "aws4_request&X-Amz-Signature=x"}
    assert request_info.caller(presigned) == request_info.Caller("AKID", "s3", "eu-central-1")
    assert request_info.operation({"REQUEST_METHOD": "POST", "PATH_INFO":
                                   "/2015-03-31/functions/f/invocations"},
                                  "rest-json", "lambda") == "Invoke"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_an_error_is_answered_in_the_protocol_the_request_spoke(protocol: str) -> None:
    """CloudWatch accepts RPC v2 CBOR, JSON and query; the SDK parses the error in the one it
    sent."""
    import botocore.parsers
    import botocore.session

    wire = service_wire("monitoring")
    response = wire.response("throttle", "slow down", protocol)
    model = botocore.session.get_session().get_service_model("cloudwatch")
    parsed = botocore.parsers.create_parser(protocol).parse(
        {"status_code": response.status_code, "headers": dict(response.headers),
         "body": response.get_data()}, model.operation_model("PutMetricData").output_shape)
    assert parsed["Error"]["Code"] == wire.errors["throttle"].code
    assert parsed["Error"]["Message"].endswith("slow down")
    assert cbor_map({"k": "v"}) == b"\xa1akav"
