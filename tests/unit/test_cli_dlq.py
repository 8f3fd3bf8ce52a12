"""``tradai dlq`` against an in-process SQS emulator with the local cloud's redrive: the
deployment's DLQs listed, a replay back to the source with progress, cancel, and bad input as
one line with exit status 1 (never a traceback)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from tests.unit.fis_fakes import until
from tests.unit.redrive_emulator import redrive_emulator
from tradai import settings
from tradai.cli.main import cli
from tradai.clock import Clock

REGION = "eu-central-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    # Scale 1: a replay at 1 message/s stays RUNNING long enough to be seen and cancelled.
    with redrive_emulator(Clock(scale=1.0)) as url:
        yield url


@dataclass
class Deployment:
    env: str
    sqs: Any
    queue: str  # backtest-queue.fifo's URL
    dlq: str  # backtest-dlq.fifo's URL

    def name(self, logical: str) -> str:
        return f"tradai-{self.env}-{logical}"

    def dead_letter(self, n: int) -> None:
        """n messages that failed their 3 receives and moved to the DLQ."""
        for i in range(n):
            self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps({"n": i}),
                                  MessageGroupId="alice", MessageDeduplicationId=f"d{i}")
        for _ in range(3 * n):
            self.sqs.receive_message(QueueUrl=self.queue, VisibilityTimeout=0,
                                     MaxNumberOfMessages=10)
        assert "Messages" not in self.sqs.receive_message(QueueUrl=self.queue,
                                                          VisibilityTimeout=0)

    def depth(self, url: str) -> int:
        return int(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def deployment(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """The spec's backtest queues of a fresh env, reached as the CLI reaches AWS."""
    for k, v in {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION,
                 "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TRADAI_ENV", raising=False)
    settings.aws_settings.cache_clear()
    env = f"u{uuid.uuid4().hex[:8]}"
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq = sqs.create_queue(QueueName=f"tradai-{env}-backtest-dlq.fifo", Attributes=fifo)[
        "QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"tradai-{env}-backtest-queue.fifo", Attributes={
        **fifo, "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                             "maxReceiveCount": 3})})["QueueUrl"]
    yield Deployment(env, sqs, queue, dlq)
    settings.aws_settings.cache_clear()


def tradai(d: Deployment, *args: str, as_json: bool = False) -> Result:
    return CliRunner().invoke(cli, [*(["--json"] if as_json else []), "dlq", "--env", d.env,
                                    *args])


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ")
    return line


def test_list_shows_each_dlq_with_its_source_and_what_waits(deployment: Deployment) -> None:
    deployment.dead_letter(2)
    result = tradai(deployment, "list", as_json=True)
    assert result.exit_code == 0, result.output
    rows = {r["queue"]: r for r in json.loads(result.output)["dead_letter_queues"]}
    backtest = rows["backtest-dlq.fifo"]
    assert backtest["sources"] == ["backtest-queue.fifo"]
    assert (backtest["waiting"], backtest["in_flight"], backtest["active_replays"]) == (2, 0, [])
    assert "does not exist" in rows["retraining-dlq.fifo"]["error"]  # not created here
    table = tradai(deployment, "list")
    assert table.exit_code == 0 and f"Dead-letter queues ({deployment.env})" in table.output


def test_replay_wait_moves_every_message_back_to_its_source(deployment: Deployment) -> None:
    deployment.dead_letter(3)
    result = tradai(deployment, "replay", "backtest-dlq.fifo", "--rate", "20", "--wait")
    assert result.exit_code == 0, result.output
    assert "replaying 3 message(s)" in result.output and "back to backtest-queue.fifo" in (
        result.output)
    assert "COMPLETED 3 of 3 moved" in result.output
    assert deployment.depth(deployment.dlq) == 0 and deployment.depth(deployment.queue) == 3


def test_queue_may_be_named_by_its_arn_or_url(deployment: Deployment) -> None:
    deployment.dead_letter(1)
    arn = deployment.sqs.get_queue_attributes(QueueUrl=deployment.dlq, AttributeNames=[
        "QueueArn"])["Attributes"]["QueueArn"]
    result = tradai(deployment, "replay", arn, "--wait")
    assert result.exit_code == 0, result.output
    assert "is empty" in one_line_error(tradai(deployment, "replay", deployment.dlq))


def test_a_running_replay_refuses_a_second_and_can_be_cancelled(deployment: Deployment
                                                                 ) -> None:
    deployment.dead_letter(5)
    assert tradai(deployment, "replay", "backtest-dlq.fifo", "--rate", "1").exit_code == 0
    line = one_line_error(tradai(deployment, "replay", "backtest-dlq.fifo"))
    assert "already RUNNING" in line
    cancelled = tradai(deployment, "cancel", "backtest-dlq.fifo")
    assert cancelled.exit_code == 0 and "moved before it stopped" in cancelled.output
    until(lambda: json.loads(tradai(deployment, "list", as_json=True).output)[
        "dead_letter_queues"][0]["active_replays"] == [])
    assert deployment.depth(deployment.dlq) + deployment.depth(deployment.queue) == 5
    assert "no replay" in one_line_error(tradai(deployment, "cancel", "backtest-dlq.fifo"))


@pytest.mark.parametrize(("queue", "says"), [
    ("nope.fifo", "unknown queue 'nope.fifo'"),
    ("backtest-queue.fifo", "is not a dead-letter queue"),
    ("backtest-dlq.fifo", "is empty: nothing to replay"),
    ("retraining-dlq.fifo", "does not exist"),
    ("arn:aws:s3:::bucket", "is not an SQS queue ARN"),
])
def test_bad_queues_are_one_line_and_exit_1(deployment: Deployment, queue: str,
                                            says: str) -> None:
    assert says in one_line_error(tradai(deployment, "replay", queue))


def test_a_rate_outside_1_to_500_is_refused_before_any_call(deployment: Deployment) -> None:
    deployment.dead_letter(1)
    for rate in ("0", "501"):
        assert "--rate must be 1 to 500" in one_line_error(
            tradai(deployment, "replay", "backtest-dlq.fifo", "--rate", rate))
    assert deployment.depth(deployment.dlq) == 1


def test_an_unreachable_endpoint_is_one_line(deployment: Deployment,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings.aws_settings.cache_clear()
    assert "SQS did not answer" in one_line_error(tradai(deployment, "list"))
