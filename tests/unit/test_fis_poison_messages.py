"""``tradai:sqs:poison-messages``: malformed messages on the targeted queue, through the
emulator's SQS API (a FIFO queue gets the experiment's own group and deduplication ids)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.fis_fakes import definition, harness, real, until
from tradai_sim.cloud import emulator
from tradai_sim.cloud.fis.targets import Resource


def _not_found(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [])
    return [b""]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = emulator.EmulatorServer("127.0.0.1", 0, _not_found)
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def test_poison_messages_land_on_a_fifo_queue_with_their_own_group(
        tmp_path: Path, endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="eu-central-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    url = sqs.create_queue(QueueName="fis-poison.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "false"})["QueueUrl"]
    queue = Resource("arn:aws:sqs:eu-central-1:123456789012:fis-poison.fifo",
                     "tradai:sqs:queue", "fis-poison.fifo", {},
                     {"QueueName": "fis-poison.fifo", "QueueUrl": url})
    targets = {"Q": {"resourceType": "tradai:sqs:queue", "resourceArns": [queue.arn],
                     "selectionMode": "ALL"}}
    action = {"actionId": "tradai:sqs:poison-messages", "targets": {"Queues": "Q"},
              "parameters": {"count": "3"}}
    with harness(tmp_path, resources={"Q": [queue]}, create=real) as h:
        h.ctx.endpoint = endpoint
        run = h.start(definition({"Poison": action}, targets))
        until(lambda: run.terminal)
        assert run.status == "completed", run.reason
        assert run.actions["Poison"].reason == ("Action was completed. 3 messages sent cannot "
                                                "be withdrawn.")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              AttributeNames=["MessageGroupId", "MessageDeduplicationId"])
    messages = got["Messages"]
    assert [m["Body"] for m in messages] == ['{"job_id": '] * 3  # truncated JSON
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {f"fis-{run.id}"}
    assert len({m["Attributes"]["MessageDeduplicationId"] for m in messages}) == 3
