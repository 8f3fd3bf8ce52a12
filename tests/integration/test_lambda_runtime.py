"""Lambda execution of real handler code through the emulator's invoke API."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for

ECHO = """
import os
def handler(event, context):
    return {"event": event, "env": os.environ.get("GREETING"),
            "remaining": context.get_remaining_time_in_millis() > 0,
            "name": context.function_name}
"""

FAILING = """
def handler(event, context):
    raise ValueError("bad input: " + str(event.get("x")))
"""

SLOW = """
import time
def handler(event, context):
    time.sleep(5)
    return "late"
"""


def test_invoke_runs_the_real_handler(cloud: RunningCloud) -> None:
    deploy_lambda(cloud, "t-echo", ECHO, environment={"GREETING": "hello"})
    resp = cloud.client("lambda").invoke(FunctionName="t-echo", Payload=json.dumps({"a": 1}))
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp
    assert body == {"event": {"a": 1}, "env": "hello", "remaining": True, "name": "t-echo"}


def test_handler_exception_is_an_unhandled_function_error(cloud: RunningCloud) -> None:
    deploy_lambda(cloud, "t-fail", FAILING)
    resp = cloud.client("lambda").invoke(FunctionName="t-fail", Payload=json.dumps({"x": 7}))
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input: 7"


def test_timeout_kills_the_environment(cloud: RunningCloud) -> None:
    deploy_lambda(cloud, "t-slow", SLOW, timeout=1)
    resp = cloud.client("lambda").invoke(FunctionName="t-slow", Payload=b"{}")
    body = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]


RECORD = """
import json, os
def handler(event, context):
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def test_sns_subscription_invokes_the_handler_asynchronously(cloud: RunningCloud,
                                                             tmp_path: Path) -> None:
    log = tmp_path / "sns.jsonl"
    arn = deploy_lambda(cloud, "t-sns", RECORD, environment={"LOG": str(log)})
    sns = cloud.client("sns")
    topic = sns.create_topic(Name="t-sns-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    msg_id = sns.publish(TopicArn=topic, Message="hello", Subject="greeting")["MessageId"]

    wait_for(lambda: log.exists() and log.read_text().strip(), timeout=20)
    record = json.loads(log.read_text().splitlines()[0])["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["MessageId"] == msg_id
    assert (record["Sns"]["Message"], record["Sns"]["Subject"]) == ("hello", "greeting")


SLOW_INIT = '''
import time
time.sleep(2.5)  # module-level work: the Init phase


def handler(event, context):
    return {"remaining_ms": context.get_remaining_time_in_millis()}
'''


def test_init_phase_does_not_count_against_the_timeout(cloud: RunningCloud) -> None:
    """AWS runs Init (importing the handler) before the invocation, limited to 10 s, and
    starts the function's timeout after it (https://docs.aws.amazon.com/lambda/latest/dg/
    lambda-runtime-environment.html, "Init phase"): a 2.5 s import with a 1 s timeout
    succeeds, and the handler sees close to its whole second."""
    deploy_lambda(cloud, "t-slow-init", SLOW_INIT, timeout=1)
    resp = cloud.client("lambda").invoke(FunctionName="t-slow-init", Payload=b"{}")
    assert "FunctionError" not in resp, resp["Payload"].read()
    remaining = json.loads(resp["Payload"].read())["remaining_ms"]
    assert 500 < remaining <= 1000, remaining
