"""The task metadata endpoint v4: the local one (the control plane's) and the platform's reader.

A container on Fargate learns its task's ARN, cluster, family, revision, Availability Zone and
limits from ``${ECS_CONTAINER_METADATA_URI_V4}/task``, and its own container's from the URI
itself (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
task-metadata-endpoint-v4-fargate-response.html).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ecs_records import ARN
from tests.ecs_records import task_record as record
from tests.http_stub import json_server
from tradai import ecs_metadata
from tradai_sim.cloud.control_api import ControlApi
from tradai_sim.cloud.ecs import metadata


def test_task_document_has_what_fargate_answers() -> None:
    doc = metadata.task_document(record())
    assert doc["TaskARN"] == ARN and doc["Cluster"] == "tradai-local-strategies"
    assert (doc["Family"], doc["Revision"]) == ("tradai-local-strategy", "7")
    assert doc["AvailabilityZone"] == "eu-central-1b" and doc["LaunchType"] == "FARGATE"
    assert doc["Limits"] == {"CPU": 1.0, "Memory": 2048}  # vCPUs and MiB
    assert (doc["KnownStatus"], doc["DesiredStatus"]) == ("RUNNING", "RUNNING")
    assert doc["PullStartedAt"] == "2027-01-15T08:00:00Z"
    [container] = doc["Containers"]
    assert container["Name"] == "strategy" and container["StartedAt"] == "2027-01-15T08:00:10Z"
    assert container["Labels"]["com.amazonaws.ecs.task-arn"] == ARN
    # "omitted if no resource limits are defined"
    assert "Limits" not in metadata.task_document(record(cpu=None, memory=None))


def test_the_control_route_answers_the_container_the_task_and_refuses_the_rest() -> None:
    known = record()
    answer = metadata.route(lambda task: known if task == "0123abcd" else None)
    assert answer({"subpath": "0123abcd"}) == (200, metadata.container_document(known))
    assert answer({"subpath": "0123abcd/task"}) == (200, metadata.task_document(known))
    status, body = answer({"subpath": "0123abcd/task/stats"})
    assert status == 404 and "not emulated" in body["error"]
    assert answer({"subpath": "ffff/task"})[0] == 404


def test_a_prefix_route_gets_the_rest_of_the_path() -> None:
    class Ctx:
        control_routes = {"/exact": lambda body: (200, {"exact": True}),
                          "/ecs/metadata/v4/*": lambda body: (200, {"rest": body["subpath"]})}

    api = ControlApi(Ctx())  # type: ignore[arg-type]
    assert api._route("/ecs/metadata/v4/abc/task")[1] == "abc/task"
    assert api._route("/exact")[1] is None and api._route("/exact")[0] is not None
    assert api._route("/ecs/metadata/v3/abc") == (None, None)
    assert metadata.uri("http://127.0.0.1:4566/", "abc") == \
        "http://127.0.0.1:4566/_sim/ecs/metadata/v4/abc"


@pytest.fixture
def endpoint() -> Iterator[dict[str, Any]]:
    """An HTTP server answering ``/v4/c1/task`` with whatever ``state['body']`` holds."""
    state: dict[str, Any] = {"body": json.dumps({"TaskARN": ARN}).encode()}
    with json_server(lambda path: state["body"] if path == "/v4/c1/task" else b"{}") as stub:
        state["uri"] = f"{stub.url}/v4/c1"
        state["stub"] = stub
        yield state


def test_the_platform_reads_its_task_arn_from_the_endpoint(endpoint: dict[str, Any]) -> None:
    env = {ecs_metadata.URI_ENV: endpoint["uri"]}
    assert ecs_metadata.task_arn(env) == ARN
    assert [path for path, _ in endpoint["stub"].requests] == ["/v4/c1/task"]


def test_outside_ecs_or_with_the_endpoint_failing_there_is_no_arn(
        endpoint: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    assert ecs_metadata.task_arn({}) is None  # not on ECS: nothing asked
    endpoint["body"] = b"not json"
    assert ecs_metadata.task_arn({ecs_metadata.URI_ENV: endpoint["uri"]}) is None
    refused = "http://127.0.0.1:1/v4/c1"  # nothing listens on port 1
    assert ecs_metadata.task_arn({ecs_metadata.URI_ENV: refused}) is None
    assert sum("ECS task metadata unavailable" in r.message for r in caplog.records) == 2


# What only the local runtimes put in a process's environment, for their own plumbing (the
# Lambda worker's pipes and ARN) or as stand-ins for what AWS answers elsewhere (ECS's metadata
# endpoint). Platform code that read one would work locally and not on AWS.
LOCAL_RUNTIME_ONLY = ("TRADAI_TASK_ARN", "TRADAI_TASK_GROUP", "TRADAI_AZ", "TRADAI_SUBNET_ID",
                      "TRADAI_LAMBDA_FUNCTION_ARN", "TRADAI_LAMBDA_LOG_STREAM",
                      "TRADAI_LAMBDA_IN_FD", "TRADAI_LAMBDA_OUT_FD")


def test_platform_code_reads_nothing_only_the_local_runtimes_set() -> None:
    import re

    platform = Path(ecs_metadata.__file__).parent
    pattern = re.compile(r"\b(" + "|".join(LOCAL_RUNTIME_ONLY) + r")\b")
    found = {f"{path.relative_to(platform)}: {m.group(1)}"
             for path in platform.rglob("*.py") for m in pattern.finditer(path.read_text())}
    assert found == set()
    # The check sees a reader: the session's settings read TRADAI_TASK_ARN before this change.
    assert pattern.search('Field(default=None, validation_alias="TRADAI_TASK_ARN")')
