"""EventBridge conformance: target delivery failures, retries and dead-letter queues."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.cloud import RunningCloud, deploy_lambda, wait_for

NOOP = """
def handler(event, context):
    return "ok"
"""


def _queue(cloud: RunningCloud, name: str) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return url, arn


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
    dlq_url, dlq_arn = _queue(cloud, "c-eb-gone-dlq")
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
    dlq_url, dlq_arn = _queue(cloud, "c-eb-sched-dlq")
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
