"""The ECS task credentials endpoint (tradai_sim.cloud.ecs.credentials): the document, the
token check, and what a container's environment is given.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html
"""

from __future__ import annotations

import json

from botocore.credentials import ContainerProvider

from tests.ecs_records import task_record
from tests.http_stub import json_server
from tradai_sim.cloud.ecs import credentials
from tradai_sim.cloud.ecs.models import TaskRecord

ROLE = "arn:aws:iam::123456789012:role/tradai-local-strategy-task"
KEYS = {"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "session"}
NOW = 1_800_000_000.0


def record(role: str | None = ROLE) -> TaskRecord:
    return task_record(task_id="abc", created_at=NOW, role_arn=role,
                       credentials_token=credentials.new_token() if role else None)


def answer(rec: TaskRecord | None, token: str | None, task_id: str = "abc"):
    assumed: list[tuple[str, str]] = []

    def role_credentials(role: str, session: str) -> dict[str, str]:
        assumed.append((role, session))
        return KEYS

    route = credentials.route(lambda tid: rec if rec and tid == rec.task_id else None,
                              role_credentials, lambda: NOW)
    body = {"subpath": task_id, "method": "GET", "args": {}}
    if token is not None:
        body["authorization"] = token
    return route(body), assumed


def test_the_task_role_credentials_with_the_tasks_token() -> None:
    rec = record()
    (status, doc), assumed = answer(rec, rec.credentials_token)
    assert status == 200
    assert doc == {"AccessKeyId": "ASIAROLE", "SecretAccessKey": "secret", "Token": "session",
                   "Expiration": "2027-01-15T14:00:00Z", "RoleArn": ROLE}  # NOW + 6 h
    assert assumed == [(ROLE, "tradai-local-strategy")]


def test_no_token_another_token_an_unknown_task_or_no_role_get_nothing() -> None:
    rec = record()
    assert answer(rec, None)[0][0] == 401
    assert answer(rec, "another-tasks-token")[0][0] == 401
    assert answer(rec, rec.credentials_token, task_id="other")[0][0] == 404
    (status, _), assumed = answer(record(role=None), "")
    assert status == 404 and assumed == []


def test_a_container_is_given_the_endpoint_and_its_token_only_with_a_task_role() -> None:
    rec = record()
    env = credentials.environment("http://127.0.0.1:4566/", rec)
    assert env == {"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                   "http://127.0.0.1:4566/_sim/ecs/credentials/abc",
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN": rec.credentials_token}
    assert credentials.environment("http://127.0.0.1:4566", record(role=None)) == {}
    assert record().credentials_token != rec.credentials_token  # one token per task


def test_botocores_container_provider_reads_the_document() -> None:
    """The answer, served over HTTP, is what botocore's own provider accepts: keys, token,
    and an expiry it schedules its next fetch by."""
    rec = record()
    (_, doc), _ = answer(rec, rec.credentials_token)
    with json_server(lambda path: json.dumps(doc).encode()) as server:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{server.url}/_sim/ecs/credentials/abc",
               "AWS_CONTAINER_AUTHORIZATION_TOKEN": rec.credentials_token}
        creds = ContainerProvider(environ=env).load()
        assert creds is not None
        frozen = creds.get_frozen_credentials()
        assert (frozen.access_key, frozen.secret_key, frozen.token) == (
            "ASIAROLE", "secret", "session")
        assert server.headers[-1].get("authorization") == rec.credentials_token
