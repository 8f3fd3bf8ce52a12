"""Lambda conformance: concurrency limits, asynchronous invocation, destinations and the DLQ.

The cloud runs at time scale 20: a simulated minute of retry delay is 3 wall seconds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.cloud import (
    RunningCloud,
    create_queue,
    deploy_lambda,
    host_only_names,
    wait_for,
)

RECORD_AND_FAIL = """
import json, os, time
def handler(event, context):
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps({"t": time.time(), "rid": context.aws_request_id,
                            "event": event}) + "\\n")
    if os.environ.get("SLEEP"):
        time.sleep(float(os.environ["SLEEP"]))
    if os.environ.get("FAIL"):
        raise ValueError("boom: " + str(event.get("n")))
    return {"ok": event.get("n")}
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _one_message(cloud: RunningCloud, url: str, timeout: float = 30) -> dict[str, Any]:
    sqs = cloud.client("sqs")
    return wait_for(lambda: (sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages")
        or [None])[0], timeout=timeout)


def test_reserved_concurrency_zero_throttles_every_invocation(cloud: RunningCloud,
                                                              tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html and
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html (TooManyRequestsException,
    HTTP 429, Reason ReservedFunctionConcurrentInvocationLimitExceeded)."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-rc0")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log)})
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)

    for _ in range(2):
        with pytest.raises(ClientError) as err:
            lam.invoke(FunctionName=fn, Payload=b"{}")
        resp = err.value.response
        assert resp["Error"]["Code"] == "TooManyRequestsException"
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert resp.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert not log.exists()  # the handler never ran


def test_reserved_concurrency_zero_sends_async_events_to_on_failure_without_retries(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    (note): with reserved concurrency 0, Lambda sends new asynchronous events to the
    dead-letter queue or on-failure destination, without any retries."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-rc0-async")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log)})
    url, arn = create_queue(cloud, _name("t-rc0-async-dest"))
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    _async_config(cloud, fn, DestinationConfig={"OnFailure": {"Destination": arn}})
    sent = time.time()
    resp = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": 0}))
    assert resp["StatusCode"] == 202  # accepted, as AWS accepts every Event invoke

    record = json.loads(_one_message(cloud, url, timeout=20)["Body"])
    assert (time.time() - sent) * cloud.time_scale < 60  # no retry schedule was waited out
    assert record["requestPayload"] == {"n": 0}
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["responseContext"]["statusCode"] == 429
    assert not log.exists()


def _async_config(cloud: RunningCloud, fn: str, **kwargs: Any) -> None:
    cloud.client("lambda").put_function_event_invoke_config(FunctionName=fn, **kwargs)


def test_async_function_error_is_retried_maximum_retry_attempts_times(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html and
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html:
    MaximumRetryAttempts 1 means one retry, one (simulated) minute after the first attempt."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-retry1")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log), "FAIL": "1"})
    url, arn = create_queue(cloud, _name("t-retry1-failed"))
    _async_config(cloud, fn, MaximumRetryAttempts=1,
                  DestinationConfig={"OnFailure": {"Destination": arn}})
    cloud.client("lambda").invoke(FunctionName=fn, InvocationType="Event",
                                  Payload=json.dumps({"n": 1}))

    record = json.loads(_one_message(cloud, url)["Body"])
    calls = _calls(log)
    assert len(calls) == 2
    assert calls[0]["rid"] == calls[1]["rid"]  # a retry of the same request
    gap_sim = (calls[1]["t"] - calls[0]["t"]) * cloud.time_scale
    assert 50 <= gap_sim <= 100, gap_sim  # one simulated minute (plus cold start)
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_async_failure_sends_invocation_record_to_on_failure_destination(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html:
    the invocation record (requestContext.condition RetriesExhausted, requestPayload,
    responseContext, responsePayload)."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-onfail")
    fn_arn = deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log),
                                                                     "FAIL": "1"})
    url, arn = create_queue(cloud, _name("t-onfail-dest"))
    _async_config(cloud, fn, MaximumRetryAttempts=0,
                  DestinationConfig={"OnFailure": {"Destination": arn}})
    cloud.client("lambda").invoke(FunctionName=fn, InvocationType="Event",
                                  Payload=json.dumps({"n": 7}))

    record = json.loads(_one_message(cloud, url)["Body"])
    assert record["version"] == "1.0"
    ctx = record["requestContext"]
    assert ctx["condition"] == "RetriesExhausted"
    assert ctx["approximateInvokeCount"] == 1
    assert ctx["functionArn"] == f"{fn_arn}:$LATEST"
    assert ctx["requestId"] == _calls(log)[0]["rid"]
    assert record["requestPayload"] == {"n": 7}
    assert record["responseContext"]["statusCode"] == 200
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "boom: 7"
    assert len(_calls(log)) == 1  # MaximumRetryAttempts 0: no retry


def test_async_success_sends_invocation_record_to_on_success_destination(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html:
    condition Success, responsePayload the function's result."""
    fn = _name("t-onok")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(tmp_path / "c.jsonl")})
    url, arn = create_queue(cloud, _name("t-onok-dest"))
    _async_config(cloud, fn, DestinationConfig={"OnSuccess": {"Destination": arn}})
    cloud.client("lambda").invoke(FunctionName=fn, InvocationType="Event",
                                  Payload=json.dumps({"n": 3}))

    record = json.loads(_one_message(cloud, url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 3}
    assert record["responseContext"]["statusCode"] == 200
    assert "functionError" not in record["responseContext"]
    assert record["responsePayload"] == {"ok": 3}


def test_async_failure_sends_event_to_dead_letter_queue_with_error_attributes(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    (dead-letter queues): the event unchanged, with the message attributes RequestID,
    ErrorCode and ErrorMessage."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-dlq")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log), "FAIL": "1"})
    url, arn = create_queue(cloud, _name("t-dlq-target"))
    lam = cloud.client("lambda")
    lam.update_function_configuration(FunctionName=fn, DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName=fn)["DeadLetterConfig"] == {
        "TargetArn": arn}
    _async_config(cloud, fn, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": 9}))

    msg = _one_message(cloud, url)
    assert json.loads(msg["Body"]) == {"n": 9}
    attrs = msg["MessageAttributes"]
    assert attrs["RequestID"]["StringValue"] == _calls(log)[0]["rid"]
    assert attrs["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attrs["ErrorMessage"]["StringValue"] == "boom: 9"


def _hold_the_only_slot(cloud: RunningCloud, fn: str, log: Path) -> threading.Thread:
    """A synchronous invocation that keeps the function's one environment busy."""
    t = threading.Thread(target=lambda: cloud.client("lambda").invoke(
        FunctionName=fn, Payload=json.dumps({"n": "sync"})), daemon=True)
    t.start()
    wait_for(lambda: _calls(log), timeout=30)  # running
    return t


def test_throttled_async_event_is_retried_with_backoff_from_one_second(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html:
    a throttled event returns to the queue and is retried, the interval growing from 1 second
    (not a function error's 1-minute retry)."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-thr")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log), "SLEEP": "0.6"})
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    _hold_the_only_slot(cloud, fn, log)  # 0.6 wall s = 12 simulated s
    sent = time.time()
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": "async"}))

    wait_for(lambda: len(_calls(log)) >= 2, timeout=30)
    calls = _calls(log)
    assert [c["event"]["n"] for c in calls] == ["sync", "async"]
    delay_sim = (calls[1]["t"] - sent) * cloud.time_scale
    # Tried again at 1, 3, 7, 15, 31 s: it runs once the slot frees, well before the
    # 60 s of a function error's retry.
    assert delay_sim < 50, delay_sim


def test_throttled_async_event_expires_after_maximum_event_age(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html and
    invocation-async-retain-records.html: a throttled event is retried up to the maximum event
    age, then discarded to the on-failure destination with condition EventAgeExceeded."""
    log = tmp_path / "calls.jsonl"
    fn = _name("t-age")
    deploy_lambda(cloud, fn, RECORD_AND_FAIL, environment={"LOG": str(log), "SLEEP": "8"},
                  timeout=15)
    url, arn = create_queue(cloud, _name("t-age-dest"))
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    _async_config(cloud, fn, MaximumEventAgeInSeconds=60,
                  DestinationConfig={"OnFailure": {"Destination": arn}})
    _hold_the_only_slot(cloud, fn, log)  # 8 wall s = 160 simulated s, past the 60 s age
    sent = time.time()
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": "late"}))

    record = json.loads(_one_message(cloud, url)["Body"])
    age_sim = (time.time() - sent) * cloud.time_scale
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"n": "late"}
    assert record["responseContext"]["statusCode"] == 429
    assert 55 <= age_sim <= 140, age_sim
    assert [c["event"]["n"] for c in _calls(log)] == ["sync"]  # the event never ran


def test_async_events_of_one_function_do_not_wait_behind_another(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html: Lambda keeps an
    event queue per function; a slow function's backlog does not delay another function."""
    slow_log, fast_log = tmp_path / "slow.jsonl", tmp_path / "fast.jsonl"
    slow, fast = _name("t-slowq"), _name("t-fastq")
    deploy_lambda(cloud, slow, RECORD_AND_FAIL, environment={"LOG": str(slow_log),
                                                             "SLEEP": "8"}, timeout=15)
    deploy_lambda(cloud, fast, RECORD_AND_FAIL, environment={"LOG": str(fast_log)})
    lam = cloud.client("lambda")
    for i in range(4):
        lam.invoke(FunctionName=slow, InvocationType="Event", Payload=json.dumps({"n": i}))
    wait_for(lambda: len(_calls(slow_log)) >= 4, timeout=30)  # four slow ones running
    sent = time.time()
    lam.invoke(FunctionName=fast, InvocationType="Event", Payload=json.dumps({"n": "fast"}))

    wait_for(lambda: _calls(fast_log), timeout=30)
    assert _calls(fast_log)[0]["t"] - sent < 5  # not after the slow ones' 8 s


NAMES = """
import json, os
def handler(event, context):
    return sorted(os.environ)
"""


def test_a_function_sees_its_configuration_and_the_runtimes_environment_not_the_hosts(
        cloud: RunningCloud) -> None:
    """A function's environment is the variables it is configured with and the runtime's
    reserved ones ("Defined runtime environment variables" in
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html): never the
    shell's that started the stack. Locally the runtime's part is the interpreter's paths and
    locale (``IMAGE_ENV``)."""
    host_only = host_only_names(cloud)
    assert host_only, "the cloud's environment has only image names: nothing to check"
    fn = _name("conf-env")
    deploy_lambda(cloud, fn, NAMES, environment={"CONFIGURED": "1"})
    out = cloud.client("lambda").invoke(FunctionName=fn, Payload=b"{}")
    names = set(json.loads(out["Payload"].read()))
    assert {"CONFIGURED", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT", "PATH"} <= names
    assert not host_only & names, sorted(host_only & names)
