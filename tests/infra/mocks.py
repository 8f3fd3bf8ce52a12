"""Pulumi mocks that record every resource the program declares.

Mock outputs are deterministic (id ``<name>-id``, ARN ``arn:aws:mock:<type>/<name>``), so a
test can compute the value a reference should resolve to and compare.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi

STACK = "dev"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Resource:
    typ: str
    name: str
    inputs: dict[str, Any]

    @property
    def id(self) -> str:
        return mock_id(self.name)

    @property
    def arn(self) -> str:
        return mock_arn(self.typ, self.name)


def mock_id(name: str) -> str:
    return f"{name}-id"


RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"


def mock_password(name: str) -> str:
    return f"MockPassword{name.replace('-', '')}"


DOCKER_IMAGE = "docker-build:index:Image"
ECR_TOKEN = "aws:ecr/getAuthorizationToken:getAuthorizationToken"


def mock_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def secret_value(value: Any) -> Any:
    """The value inside an input Pulumi recorded as secret; AssertionError if it is not one
    (the mock monitor sees secrets in their wire form, a signature key beside the value)."""
    from pulumi.runtime import rpc

    assert isinstance(value, dict) and \
        value.get(rpc._special_sig_key) == rpc._special_secret_sig, f"not a secret: {value!r}"
    return value["value"]


def mock_arn(typ: str, name: str) -> str:
    return f"arn:aws:mock:{typ}/{name}"


def mock_arn_suffix(typ: str, name: str) -> str:
    """What ``arn_suffix`` of a load balancer or target group resolves to (``targetgroup/NAME``;
    AWS adds an ID)."""
    return f"{typ.rsplit(':', 1)[-1].lower()}/{name}"


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Resource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Resource(args.typ, args.name, dict(args.inputs)))
        outputs = {
            **args.inputs,
            "arn": mock_arn(args.typ, args.name),
            "arnSuffix": mock_arn_suffix(args.typ, args.name),
            "name": args.inputs.get("name", args.name),
            "url": f"https://mock/{args.name}",
            "repositoryUrl": f"{ACCOUNT}.dkr.ecr.mock/{args.name}",
            "apiEndpoint": f"https://{args.name}.mock",
            "address": f"{args.name}.db.mock",
            "masterUserSecrets": [{"secretArn": mock_arn("rds-secret", args.name)}],
            "dnsName": f"{args.name}.elb.mock",
        }
        if args.typ == RANDOM_PASSWORD:  # a value a test can look for (mock_password)
            outputs["result"] = mock_password(args.name)
        if args.typ == DOCKER_IMAGE:  # what a push reports: the digest (mock_digest)
            outputs["digest"] = mock_digest(args.name)
            outputs["ref"] = f"{args.inputs['tags'][0]}@{mock_digest(args.name)}"
        return mock_id(args.name), outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                    "id": ACCOUNT, "userId": ACCOUNT}
        if args.token == ECR_TOKEN:
            return {"userName": "AWS", "password": "mock-ecr-token", "id": ACCOUNT,
                    "authorizationToken": "mock", "proxyEndpoint": f"https://{ACCOUNT}.mock",
                    "expiresAt": "2099-01-01T00:00:00Z"}
        raise NotImplementedError(f"unexpected provider call {args.token}")


def _ensure_event_loop() -> None:
    """Pulumi's mock runtime runs on the thread's current event loop; a test elsewhere in the
    session (asyncio.run, an ASGI test client) may have closed it."""
    try:
        loop = asyncio.get_event_loop()
        usable = not loop.is_closed()
    except RuntimeError:
        usable = False
    if not usable:
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(fn: Any, mocks: RecordingMocks | None = None) -> RecordingMocks:
    """Run ``fn`` (which declares resources) under fresh mocks; return what it declared."""
    mocks = mocks or RecordingMocks()
    _ensure_event_loop()
    pulumi.runtime.set_mocks(mocks, project="tradai", stack=STACK, preview=False)

    @pulumi.runtime.test
    def program() -> None:
        fn()

    program()
    return mocks
