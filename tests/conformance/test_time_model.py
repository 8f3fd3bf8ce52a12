"""The time model in the running cloud (time scale 20): waiting passes in simulated time,
bounds on work stay wall seconds, and AWS's relations between the two hold where the work runs.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for
from tradai.topology import default_topology
from tradai.workflows.render import load_asl
from tradai_sim.cloud.bootstrap.handlers import handler_exists

SPEC = default_topology()


def _role(cloud: RunningCloud) -> str:
    iam = cloud.client("iam")
    try:
        return str(iam.get_role(RoleName="t-time-sfn")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_role(RoleName="t-time-sfn", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"])


def _run(cloud: RunningCloud, asl: dict[str, Any], timeout: float = 40.0) -> tuple[dict, float]:
    """Run a state machine once; its final description and the wall seconds it took."""
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name=f"t-time-{uuid.uuid4().hex[:8]}",
                                       definition=json.dumps(asl), roleArn=_role(cloud))
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"],
                              input="{}")["executionArn"]
    done = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"]
                    != "RUNNING" and d, timeout=timeout, interval=0.05)
    return done, time.monotonic() - started


def test_every_function_fed_queue_holds_six_function_timeouts_in_wall_seconds(
        cloud: RunningCloud) -> None:
    """"Set the source queue's visibility timeout to at least six times the configuration
    timeout on your function" -
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html. Both numbers are
    wall seconds in the emulator (moto holds a received message for VisibilityTimeout wall
    seconds; the function is killed after Timeout wall seconds), so the relation holds where
    the work runs. Scaling the visibility (180 s -> 9 wall s at 20x, as before) broke it."""
    lam, sqs = cloud.client("lambda"), cloud.client("sqs")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    spec_fed = {cloud.name(fn.name) for fn in SPEC.lambdas
                if fn.trigger.type == "sqs" and handler_exists(fn.handler)}
    checked = set()
    for m in mappings:
        function = m["FunctionArn"].rsplit(":", 1)[1]
        if function not in spec_fed:
            continue
        timeout = lam.get_function_configuration(FunctionName=function)["Timeout"]
        url = sqs.get_queue_url(QueueName=m["EventSourceArn"].rsplit(":", 1)[1])["QueueUrl"]
        visibility = int(sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"])
        assert visibility >= 6 * timeout, (function, visibility, timeout)
        checked.add(function)
    assert checked == spec_fed and spec_fed  # every implemented consumer has its mapping


def test_state_machines_are_deployed_as_written(cloud: RunningCloud) -> None:
    """The deployed definition is the ASL file rendered, durations untouched, as the Pulumi
    program deploys it: Task and execution timeouts bound work (wall seconds) and Wait/Retry
    intervals are waited in simulated time by the interpreter
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html)."""
    sfn = cloud.client("stepfunctions")
    arns = cloud.status()["resources"]["state_machines"]
    for m in SPEC.state_machines:
        deployed = json.loads(sfn.describe_state_machine(stateMachineArn=arns[m.name])[
            "definition"])
        written = load_asl(m.asl)
        assert deployed["TimeoutSeconds"] == written["TimeoutSeconds"] == m.timeout_seconds
        for name, state in written["States"].items():
            for key in ("TimeoutSeconds", "HeartbeatSeconds"):
                if key in state:
                    assert deployed["States"][name][key] == state[key], (m.name, name, key)
            for i, retry in enumerate(state.get("Retry") or []):
                got = deployed["States"][name]["Retry"][i]
                assert got.get("IntervalSeconds") == retry.get("IntervalSeconds"), (m.name, name)


def test_a_wait_state_waits_in_simulated_time(cloud: RunningCloud) -> None:
    """A Wait state is pure waiting
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html): 60 s take 3 wall s
    at 20x, not 60."""
    done, wall = _run(cloud, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "End": True}}})
    assert done["status"] == "SUCCEEDED"
    assert 2.5 <= wall < 20, wall


def test_a_wait_until_a_timestamp_counts_from_the_simulated_now(cloud: RunningCloud) -> None:
    """A Wait with Timestamp waits until that instant
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html); under dilation the
    instant is on the stack's clock (everything the platform stamps is simulated time)."""
    sim_now = float(cloud.status()["simulated_now"])
    until = datetime.fromtimestamp(sim_now + 100, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    done, wall = _run(cloud, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Timestamp": until, "End": True}}})
    assert done["status"] == "SUCCEEDED"
    assert 2.0 <= wall < 20, wall  # 100 simulated s = 5 wall s (less the time to start)


def test_retry_intervals_wait_in_simulated_time(cloud: RunningCloud) -> None:
    """Retry back-off is waiting
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
    two retries 40 s apart take about 4 wall s at 20x, and the function runs three times."""
    fn = deploy_lambda(cloud, f"t-time-fail-{uuid.uuid4().hex[:6]}",
                       "def handler(event, context):\n    raise ValueError('always')\n")
    done, wall = _run(cloud, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": fn, "Payload": {}},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 40, "MaxAttempts": 2,
                   "BackoffRate": 1.0}],
        "End": True}}})
    assert done["status"] == "FAILED"
    history = cloud.client("stepfunctions").get_execution_history(
        executionArn=done["executionArn"])["events"]
    attempts = [e for e in history if e["type"] == "TaskScheduled"]
    assert len(attempts) == 3
    assert 3.5 <= wall < 30, wall


def test_a_task_state_timeout_bounds_work_in_wall_seconds(cloud: RunningCloud) -> None:
    """TimeoutSeconds bounds the task's work
    (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html): a function that
    works 2 wall s under a 5 s timeout succeeds at 20x (5 simulated s would be 0.25 wall s)."""
    fn = deploy_lambda(cloud, f"t-time-slow-{uuid.uuid4().hex[:6]}",
                       "import time\ndef handler(event, context):\n    time.sleep(2)\n"
                       "    return 'done'\n")
    done, _ = _run(cloud, {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": fn, "Payload": {}}, "TimeoutSeconds": 5,
        "End": True}}})
    assert done["status"] == "SUCCEEDED", done
