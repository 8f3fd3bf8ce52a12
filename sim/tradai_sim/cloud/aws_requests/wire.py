"""API errors in each service's own wire protocol, so an SDK raises exactly what AWS would.

The error code per kind is what the service itself names it: the codes EC2's and S3's API
references document (``InternalError``, ``RequestLimitExceeded`` / ``SlowDown``,
``Unavailable``), else the first of the usual names the service's botocore model declares
(DynamoDB ``InternalServerError``, ECS ``ServerException``, Lambda ``ServiceException`` /
``TooManyRequestsException``, ...), else AWS's common errors (``InternalFailure`` 500,
``ThrottlingException`` 400, ``ServiceUnavailable`` 503), which Step Functions and SQS
answer with.
"""

from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

# SigV4 signing name -> botocore service name, where they differ.
SERVICE_NAMES = {"states": "stepfunctions", "monitoring": "cloudwatch", "email": "ses",
                 "execute-api": "apigateway", "cognito-idp": "cognito-idp"}

# Services whose models declare no such errors: the codes their API references document.
DOCUMENTED = {
    "ec2": {"internal": ("InternalError", 500), "throttle": ("RequestLimitExceeded", 503),
            "unavailable": ("Unavailable", 503)},
    "s3": {"internal": ("InternalError", 500), "throttle": ("SlowDown", 503),
           "unavailable": ("ServiceUnavailable", 503)},
}
COMMON_ERRORS = {"internal": ("InternalFailure", 500), "throttle": ("ThrottlingException", 400),
                 "unavailable": ("ServiceUnavailable", 503)}
# Modeled error shapes, in order of preference, per kind.
PREFERRED = {
    "internal": ("InternalServerError", "InternalServerException", "InternalErrorException",
                 "InternalError", "InternalServiceError", "InternalServiceFault",
                 "InternalFailure", "ServerException", "ServiceException",
                 "ServiceFailureException", "InternalException"),
    "throttle": ("ThrottlingException", "TooManyRequestsException", "ThrottledException",
                 "RequestThrottled", "Throttling"),
    "unavailable": ("ServiceUnavailableException", "ServiceUnavailable", "UnavailableException"),
}


class UnknownService(LookupError):
    pass


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int

    @property
    def fault(self) -> str:
        return "Sender" if self.status < 500 else "Receiver"


@dataclass(frozen=True)
class ServiceWire:
    signing_name: str
    service_name: str
    protocol: str  # ec2 | query | json | rest-json | rest-xml | smithy-rpc-v2-cbor
    json_version: str
    errors: dict[str, ErrorSpec]
    # JSON services that once spoke query (SQS, CloudWatch): SDKs take the error code from
    # the ``x-amzn-query-error`` header, as the query protocol named it.
    query_compatible: bool = False

    def response(self, kind: str, message: str, protocol: str | None = None) -> Response:
        """The error as ``protocol`` (the one the request used; default: the service's)."""
        return self.error(self.errors[kind], message, protocol)

    def error(self, err: ErrorSpec, message: str, protocol: str | None = None) -> Response:
        """Any error ``err`` as ``protocol``."""
        protocol = protocol or self.protocol
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id}
        if self.query_compatible and protocol in ("json", "smithy-rpc-v2-cbor"):
            headers["x-amzn-query-error"] = f"{err.code};{err.fault}"
        if protocol == "ec2":
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                    f"<Code>{err.code}</Code><Message>{escape(message)}</Message></Error>"
                    f"</Errors><RequestID>{request_id}</RequestID></Response>")
            return Response(body, err.status, headers, mimetype="text/xml")
        if protocol == "query":
            body = (f"<ErrorResponse><Error><Type>{err.fault}</Type><Code>{err.code}</Code>"
                    f"<Message>{escape(message)}</Message></Error>"
                    f"<RequestId>{request_id}</RequestId></ErrorResponse>")
            return Response(body, err.status, headers, mimetype="text/xml")
        if protocol == "rest-xml":
            body = (f"<Error><Code>{err.code}</Code><Message>{escape(message)}</Message>"
                    f"<RequestId>{request_id}</RequestId></Error>")
            return Response(body, err.status, headers, mimetype="application/xml")
        if protocol == "smithy-rpc-v2-cbor":
            headers["smithy-protocol"] = "rpc-v2-cbor"
            return Response(cbor_map({"__type": err.code, "message": message}), err.status,
                            headers, content_type="application/cbor")
        if protocol == "rest-json":
            headers["x-amzn-ErrorType"] = err.code
            return Response(json.dumps({"message": message}), err.status, headers,
                            mimetype="application/json")
        return Response(json.dumps({"__type": err.code, "message": message}), err.status,
                        headers, content_type=f"application/x-amz-json-{self.json_version}")


def service_wire(signing_name: str) -> ServiceWire:
    """How ``signing_name`` (ec2, states, sqs, dynamodb, ...) answers errors."""
    wire = _service_wire(signing_name)
    if wire is None:
        raise UnknownService(f"no AWS API namespace {signing_name!r} is known to botocore")
    return wire


@lru_cache(maxsize=64)
def _service_wire(signing_name: str) -> ServiceWire | None:
    """None for a name botocore does not know, remembered too: looking it up builds a
    botocore session and scans its data folder (the ALB's discovery loop signs its ELB calls
    ``elasticloadbalancing`` once a second)."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    service_name = SERVICE_NAMES.get(signing_name, signing_name)
    try:
        model = botocore.session.get_session().get_service_model(service_name)
    except UnknownServiceError:
        return None
    protocol = getattr(model, "resolved_protocol", model.protocol)  # what botocore speaks
    if service_name in DOCUMENTED:
        errors = {k: ErrorSpec(*v) for k, v in DOCUMENTED[service_name].items()}
    else:
        errors = {kind: _modeled(model, kind) for kind in COMMON_ERRORS}
    return ServiceWire(signing_name, service_name, protocol,
                       str(model.metadata.get("jsonVersion", "1.0")), errors,
                       "awsQueryCompatible" in model.metadata)


def _modeled(model: Any, kind: str) -> ErrorSpec:
    shapes = {s.name: s for op in model.operation_names
              for s in model.operation_model(op).error_shapes}
    default_code, default_status = COMMON_ERRORS[kind]
    for name in PREFERRED[kind]:
        shape = shapes.get(name)
        if shape is not None:
            meta = shape.metadata.get("error") or {}
            return ErrorSpec(str(meta.get("code", name)),
                             int(meta.get("httpStatusCode", default_status)))
    return ErrorSpec(default_code, default_status)


def cbor_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text strings (all that an RPC v2 CBOR error body needs)."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        if n < 256:
            return bytes([major << 5 | 24, n])
        if n < 65536:
            return bytes([major << 5 | 25]) + struct.pack(">H", n)
        return bytes([major << 5 | 26]) + struct.pack(">I", n)

    def text(s: str) -> bytes:
        raw = s.encode()
        return head(3, len(raw)) + raw

    return head(5, len(items)) + b"".join(text(k) + text(v) for k, v in items.items())
