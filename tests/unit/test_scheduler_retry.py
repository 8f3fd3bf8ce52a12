"""EventBridge's retry policy, failure classification and dead-letter attributes (pure logic).

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
"""

from __future__ import annotations

import random

from tradai_sim.cloud.scheduler.retry import (
    AGE_EXHAUSTED,
    ATTEMPTS_EXHAUSTED,
    BACKOFF_CAP_SECONDS,
    RetryPolicy,
    classify,
    dlq_attributes,
)


def test_default_retry_policy_is_185_attempts_over_24_hours() -> None:
    assert RetryPolicy.of(None) == RetryPolicy(185, 86400)
    assert RetryPolicy.of({"MaximumRetryAttempts": 2}) == RetryPolicy(2, 86400)


def test_retries_stop_at_maximum_retry_attempts() -> None:
    p = RetryPolicy(2, 86400)
    assert p.exhausted(0, 0, 1) is None and p.exhausted(1, 0, 3) is None
    assert p.exhausted(2, 0, 7) == ATTEMPTS_EXHAUSTED


def test_retries_stop_at_maximum_event_age() -> None:
    p = RetryPolicy(185, 60)
    assert p.exhausted(5, 1000, 1059) is None
    assert p.exhausted(5, 1000, 1061) == AGE_EXHAUSTED


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    rng = random.Random(1)
    p = RetryPolicy()
    for retry in range(1, 30):
        waits = [p.backoff(retry, rng) for _ in range(50)]
        assert all(0 <= w <= min(BACKOFF_CAP_SECONDS, 2 ** retry) for w in waits)
    assert max(p.backoff(20, rng) for _ in range(50)) > BACKOFF_CAP_SECONDS / 2


def test_missing_target_and_permissions_are_not_retried_throttling_is() -> None:
    assert classify("ResourceNotFoundException", "Function not found", 404).code == "NO_RESOURCE"
    assert not classify("AWS.SimpleQueueService.NonExistentQueue", "", 400).retriable
    assert classify("AccessDeniedException", "", 403).code == "NO_PERMISSIONS"
    throttled = classify("TooManyRequestsException", "Rate Exceeded", 429)
    assert throttled.code == "THROTTLING" and throttled.retriable
    assert classify("ServiceException", "", 500).retriable


def test_dead_letter_attributes_name_rule_target_error_and_retries() -> None:
    f = classify("TooManyRequestsException", "Rate Exceeded", 429)
    attrs = dlq_attributes("arn:rule", "arn:target", f, 2, ATTEMPTS_EXHAUSTED)
    assert {k: v["StringValue"] for k, v in attrs.items()} == {
        "RULE_ARN": "arn:rule", "TARGET_ARN": "arn:target", "ERROR_CODE": "THROTTLING",
        "ERROR_MESSAGE": "Rate Exceeded", "RETRY_ATTEMPTS": "2",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts"}
    assert all(v["DataType"] == "String" for v in attrs.values())
