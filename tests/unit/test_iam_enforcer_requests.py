"""The IAM enforcer reads each protocol's request as AWS does (REST path labels, S3 virtual-host
buckets, the copy-source header, query forms, RPC v2 CBOR bodies), and refuses bad modes with
a reason."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tradai_sim.cloud.aws_requests import request_info
from tradai_sim.cloud.aws_requests.wire import cbor_map, service_wire
from tradai_sim.cloud.iam_enforcement.interceptor import (
    MODE_ENV,
    IamEnforcer,
    mode_from_env,
)

A = "123456789012"


def environ(service: str, method: str = "POST", path: str = "/", query: str = "",
            body: bytes = b"", **extra: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "HTTP_AUTHORIZATION": ("AWS4-HMAC-SHA256 Credential=ASIAX/20261205/eu-central-1/"
                                   f"{service}/aws4_request, SignedHeaders=host, Signature=x"),
            **extra}


def read(env: dict[str, Any]) -> Any:
    enforcer = IamEnforcer(A, "enforce")
    who = request_info.caller(env)
    assert who is not None
    wire = service_wire(who.service)
    return enforcer._request(env, who, wire, request_info.request_protocol(env, wire.protocol))


def test_lambda_invoke_path_names_the_function() -> None:
    req = read(environ("lambda", path="/2015-03-31/functions/tradai-local-f/invocations"))
    assert (req.operation, req.params["FunctionName"], req.region) == (
        "Invoke", "tradai-local-f", "eu-central-1")


def test_s3_path_and_virtual_host_style_and_the_copy_header() -> None:
    req = read(environ("s3", "GET", "/arctic/a/b.bin"))
    assert (req.operation, req.params["Bucket"], req.params["Key"]) == (
        "GetObject", "arctic", "a/b.bin")
    req = read(environ("s3", "GET", "/a/b.bin", HTTP_HOST="arctic.s3.eu-central-1.amazonaws.com"))
    assert (req.operation, req.params["Bucket"], req.params["Key"]) == (
        "GetObject", "arctic", "a/b.bin")
    assert read(environ("s3", "PUT", "/b/k")).operation == "PutObject"
    assert read(environ("s3", "PUT", "/b/k", HTTP_X_AMZ_COPY_SOURCE="/src/k")).operation == \
        "CopyObject"
    req = read(environ("s3", "GET", "/b", "list-type=2&prefix=p%2F"))
    assert (req.operation, req.params["prefix"]) == ("ListObjectsV2", "p/")


def test_query_form_body_and_json_target() -> None:
    body = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aeu-central-1%3A123456789012%3At&Message=m"
    req = read(environ("sns", body=body, CONTENT_TYPE="application/x-www-form-urlencoded"))
    assert (req.operation, req.params["TopicArn"]) == (
        "Publish", "arn:aws:sns:eu-central-1:123456789012:t")
    req = read(environ("dynamodb", body=json.dumps({"TableName": "t"}).encode(),
                       HTTP_X_AMZ_TARGET="DynamoDB_20120810.GetItem"))
    assert (req.operation, req.params) == ("GetItem", {"TableName": "t"})


def test_rpc_v2_cbor_body() -> None:
    req = read(environ("monitoring", path="/service/GraniteServiceVersion20100801/operation/"
                                          "PutMetricData",
                       body=cbor_map({"Namespace": "TradAI/Trading"}),
                       HTTP_SMITHY_PROTOCOL="rpc-v2-cbor"))
    assert (req.operation, req.params["Namespace"]) == ("PutMetricData", "TradAI/Trading")


def test_bad_modes_are_refused_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_ENV, "strict")
    with pytest.raises(ValueError, match="TRADAI_SIM_IAM='strict': expected one of enforce"):
        mode_from_env()
    monkeypatch.setenv(MODE_ENV, "ENFORCE")
    assert mode_from_env() == "enforce"
    monkeypatch.delenv(MODE_ENV)
    assert mode_from_env() == "enforce"  # as AWS: a missing grant fails
    enforcer = IamEnforcer(A, "audit")
    status, body = enforcer.route({"method": "POST", "mode": "strict"})
    assert status == 400 and "enforce, audit, off" in body["error"]
    assert enforcer.route({"method": "DELETE"})[0] == 405
    assert enforcer.route({"method": "POST", "mode": "off"})[1]["mode"] == "off"


def test_the_harness_key_is_not_judged() -> None:
    """An access key STS did not issue for a role is an administrator's: no decision, no
    record."""
    enforcer = IamEnforcer(A, "enforce")
    env = environ("dynamodb", body=b'{"TableName": "t"}',
                  HTTP_X_AMZ_TARGET="DynamoDB_20120810.DeleteTable")
    env["HTTP_AUTHORIZATION"] = env["HTTP_AUTHORIZATION"].replace("ASIAX", "testing")
    assert enforcer(env) is None
    assert enforcer.records.snapshot()["counts"] == {}
