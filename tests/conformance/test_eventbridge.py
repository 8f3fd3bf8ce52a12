"""EventBridge conformance: rule target failures and dead-letter queues; EventBridge Scheduler."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.cloud import RunningCloud, create_queue, deploy_lambda, wait_for

NOOP = """
def handler(event, context):
    return "ok"
"""


def _receive(cloud: RunningCloud, url: str) -> list[dict[str, Any]]:
    return cloud.client("sqs").receive_message(
        QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages", [])


def test_event_for_a_target_that_no_longer_exists_goes_to_the_dlq_without_retries(
        cloud: RunningCloud) -> None:
    """"For errors that result from missing permissions to a target, or a target resource that
    no longer exists [...] EventBridge sends these events directly to the DLQ", each message with
    the RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE and RETRY_ATTEMPTS attributes.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"""
    fn_arn = deploy_lambda(cloud, "c-eb-gone", NOOP)
    cloud.client("lambda").delete_function(FunctionName="c-eb-gone")
    dlq_url, dlq_arn = create_queue(cloud, "c-eb-gone-dlq")
    events = cloud.client("events")
    rule_arn = events.put_rule(Name="c-eb-gone", EventPattern=json.dumps(
        {"source": ["c.eb.gone"]}))["RuleArn"]
    events.put_targets(Rule="c-eb-gone", Targets=[{
        "Id": "fn", "Arn": fn_arn,
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
        "DeadLetterConfig": {"Arn": dlq_arn}}])

    events.put_events(Entries=[{"Source": "c.eb.gone", "DetailType": "Gone",
                                "Detail": json.dumps({"n": 1})}])
    msg = wait_for(lambda: _receive(cloud, dlq_url), timeout=15)[0]
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert attrs["RULE_ARN"] == rule_arn
    assert attrs["TARGET_ARN"] == fn_arn
    assert attrs["ERROR_CODE"] == "NO_RESOURCE"
    assert "c-eb-gone" in attrs["ERROR_MESSAGE"]
    assert attrs["RETRY_ATTEMPTS"] == "0"  # not retried: retrying cannot fix it
    assert "EXHAUSTED_RETRY_CONDITION" not in attrs
    body = json.loads(msg["Body"])
    assert body["source"] == "c.eb.gone" and body["detail"] == {"n": 1}
    assert body["detail-type"] == "Gone"
    events.remove_targets(Rule="c-eb-gone", Ids=["fn"])
    events.delete_rule(Name="c-eb-gone")


def test_scheduled_rule_event_for_a_missing_target_goes_to_the_dlq(cloud: RunningCloud) -> None:
    """A schedule's deliveries follow the same dead-letter rules: the "Scheduled Event" for a
    target that no longer exists is sent to the target's DLQ with the documented attributes.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"""
    dlq_url, dlq_arn = create_queue(cloud, "c-eb-sched-dlq")
    events = cloud.client("events")
    account = cloud.client("sts").get_caller_identity()["Account"]
    missing = f"arn:aws:sqs:{cloud.region}:{account}:c-eb-never-created"
    rule_arn = events.put_rule(Name="c-eb-sched", ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule="c-eb-sched", Targets=[{
        "Id": "q", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}])
    msg = wait_for(lambda: _receive(cloud, dlq_url), timeout=15)[0]
    events.remove_targets(Rule="c-eb-sched", Ids=["q"])
    events.delete_rule(Name="c-eb-sched")
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert (attrs["RULE_ARN"], attrs["TARGET_ARN"]) == (rule_arn, missing)
    assert attrs["ERROR_CODE"] == "NO_RESOURCE" and attrs["RETRY_ATTEMPTS"] == "0"
    body = json.loads(msg["Body"])
    assert body["detail-type"] == "Scheduled Event" and body["resources"] == [rule_arn]


RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def _sim_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_scheduler_at_schedule_invokes_its_target_once_at_the_time_then_deletes_itself(
        cloud: RunningCloud) -> None:
    """A one-time ``at()`` schedule invokes its target (here SQS, with its Input and the
    <aws.scheduler.scheduled-time> context attribute) at that time; ActionAfterCompletion
    DELETE deletes it after its last invocation.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html"""
    url, arn = create_queue(cloud, "c-sched-at")
    scheduler = cloud.client("scheduler")
    at = int(cloud.status()["simulated_now"]) + 120
    scheduler.create_schedule(
        Name="c-sched-at", ScheduleExpression=f"at({_sim_iso(at)})",
        FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
        Target={"Arn": arn, "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": '{"when": "<aws.scheduler.scheduled-time>"}'})
    msg = wait_for(lambda: _receive(cloud, url), timeout=30)[0]
    assert cloud.status()["simulated_now"] >= at
    assert json.loads(msg["Body"]) == {"when": _sim_iso(at) + "Z"}
    wait_for(lambda: not scheduler.list_schedules(NamePrefix="c-sched-at")["Schedules"],
             timeout=10)
    assert _receive(cloud, url) == []  # once only


def test_scheduler_rate_schedule_invokes_its_lambda_target_every_period(
        cloud: RunningCloud, tmp_path: Path) -> None:
    """A ``rate()`` schedule invokes its Lambda target once per period (simulated).
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html"""
    out = tmp_path / "rate.jsonl"
    fn = deploy_lambda(cloud, "c-sched-rate", RECORDER, environment={"OUT": str(out)})
    scheduler = cloud.client("scheduler")
    scheduler.create_schedule(
        Name="c-sched-rate", ScheduleExpression="rate(1 minute)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": fn, "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": '{"tick": "<aws.scheduler.scheduled-time>"}'})

    def ticks() -> list[float]:
        if not out.exists():
            return []
        return [datetime.fromisoformat(json.loads(x)["tick"].replace("Z", "+00:00")).timestamp()
                for x in out.read_text().splitlines() if x.strip()]

    seen = wait_for(lambda: len(ticks()) >= 3 and ticks(), timeout=40)
    scheduler.delete_schedule(Name="c-sched-rate")
    assert [b - a for a, b in itertools.pairwise(sorted(seen[:3]))] == [60.0, 60.0]


def test_scheduler_target_that_does_not_exist_goes_to_its_dlq(cloud: RunningCloud) -> None:
    """A schedule's failed invocation goes to the target's DeadLetterConfig queue with the
    Scheduler's attributes (SCHEDULE_ARN, TARGET_ARN, SCHEDULED_TIME, ERROR_CODE, ...).
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html"""
    dlq_url, dlq_arn = create_queue(cloud, "c-sched-dlq")
    account = cloud.client("sts").get_caller_identity()["Account"]
    missing = f"arn:aws:sqs:{cloud.region}:{account}:c-sched-never-created"
    scheduler = cloud.client("scheduler")
    at = int(cloud.status()["simulated_now"]) + 60
    arn = scheduler.create_schedule(
        Name="c-sched-dlq", ScheduleExpression=f"at({_sim_iso(at)})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": missing, "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                "Input": '{"x": 1}', "DeadLetterConfig": {"Arn": dlq_arn},
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60}},
    )["ScheduleArn"]
    msg = wait_for(lambda: _receive(cloud, dlq_url), timeout=30)[0]
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert (attrs["SCHEDULE_ARN"], attrs["TARGET_ARN"]) == (arn, missing)
    assert attrs["SCHEDULED_TIME"] == _sim_iso(at) + "Z"
    assert attrs["ERROR_CODE"] == "NO_RESOURCE" and attrs["RETRY_ATTEMPTS"] == "0"
    assert json.loads(msg["Body"]) == {"x": 1}
    scheduler.delete_schedule(Name="c-sched-dlq")
