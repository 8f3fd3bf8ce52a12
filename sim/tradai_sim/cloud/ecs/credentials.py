"""Task role credentials as ECS hands them to a container: an endpoint, not variables.

ECS gives the containers of a task that has a task role the address of a credentials endpoint;
the AWS SDKs' container credential provider fetches the role's temporary credentials there
and fetches them again before they expire
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html). On Fargate
the address is ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI``, relative to the link-local
169.254.170.2, which does not exist here; the same provider also takes
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (a loopback ``http`` URL is allowed) with
``AWS_CONTAINER_AUTHORIZATION_TOKEN``, sent as the ``Authorization`` header
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html). Locally
the URL is the control plane's ``/_sim/ecs/credentials/<task id>`` and the token is the
task's own, so one task cannot read another's role. Like AWS's link-local address, no route
or network fault cuts it off.

So a container holds no key in its environment, as on AWS, and the code that finds its
credentials (boto3's default chain; ArcticDB's ``aws_auth=true``, the AWS C++ SDK's chain)
is the code it runs there. A task without a task role gets no credentials at all.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tradai_sim.cloud.control_api import route_url
from tradai_sim.cloud.ecs.models import TaskRecord

ENV_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
ENV_TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
ROUTE = "/ecs/credentials/*"  # a control route prefix (tradai_sim.cloud.control_api)
# How long the credentials handed out are valid, on the stack's clock: the SDKs fetch again
# before then (botocore from 15 minutes before), as they do on AWS.
LIFETIME_S = 6 * 3600


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _serves(record: TaskRecord | None) -> bool:
    """Whether the endpoint serves ``record``: a task with a task role (and so a token)."""
    return record is not None and bool(record.role_arn) and bool(record.credentials_token)


def environment(endpoint: str, record: TaskRecord) -> dict[str, str]:
    """What a container of ``record`` is given; nothing without a task role."""
    if not _serves(record):
        return {}
    return {ENV_URI: route_url(endpoint, ROUTE, record.task_id),
            ENV_TOKEN: record.credentials_token}


def route(find: Callable[[str], TaskRecord | None],
          role_credentials: Callable[[str, str], dict[str, str]],
          now: Callable[[], float]) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """The control route: ``<task id>``, with the task's token."""

    def answer(body: dict[str, Any]) -> tuple[int, Any]:
        task_id = str(body.get("subpath", "")).strip("/")
        record = find(task_id)
        if not _serves(record):
            return 404, {"error": f"no task with a task role {task_id!r} on this host"}
        given = str(body.get("authorization") or "")
        if not hmac.compare_digest(given, record.credentials_token):
            return 401, {"error": "the Authorization header is not this task's token"}
        creds = role_credentials(record.role_arn, record.family)
        expires = datetime.fromtimestamp(now() + LIFETIME_S, tz=UTC)
        return 200, {"AccessKeyId": creds["AWS_ACCESS_KEY_ID"],
                     "SecretAccessKey": creds["AWS_SECRET_ACCESS_KEY"],
                     "Token": creds["AWS_SESSION_TOKEN"],
                     "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "RoleArn": record.role_arn}

    return answer
