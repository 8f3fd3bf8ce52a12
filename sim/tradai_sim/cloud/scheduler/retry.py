"""A target's RetryPolicy, how a failed delivery is classified, and the dead-letter attributes.

EventBridge retries a delivery that failed for a retriable reason (throttling, a connection or
service error) with exponential back-off and jitter until MaximumRetryAttempts retries or
MaximumEventAgeInSeconds, whichever comes first; a failure that retrying cannot fix (the target
resource does not exist, permissions) goes to the dead-letter queue at once. All waits here are
simulated seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_ATTEMPTS = 185
DEFAULT_MAX_AGE_SECONDS = 86400
# AWS documents "exponential back off and jitter" without numbers: full jitter over a delay
# that starts at BASE and doubles up to CAP (simulated seconds) is the local choice.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0

ATTEMPTS_EXHAUSTED = "MaximumRetryAttempts"
AGE_EXHAUSTED = "MaximumEventAgeInSeconds"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # retries after the first attempt
    max_age: float = DEFAULT_MAX_AGE_SECONDS

    @classmethod
    def of(cls, spec: dict[str, Any] | None) -> RetryPolicy:
        spec = spec or {}
        return cls(int(spec.get("MaximumRetryAttempts", DEFAULT_MAX_ATTEMPTS)),
                   float(spec.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_SECONDS)))

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (1-based): full jitter, exponential cap."""
        return rng.uniform(0.0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** retry))

    def exhausted(self, retries_done: int, first_attempt: float, next_at: float) -> str | None:
        """Which limit stops a further retry at ``next_at``, or None to retry."""
        if retries_done >= self.max_attempts:
            return ATTEMPTS_EXHAUSTED
        if next_at - first_attempt > self.max_age:
            return AGE_EXHAUSTED
        return None


@dataclass(frozen=True)
class Failure:
    code: str  # the DLQ's ERROR_CODE
    message: str
    retriable: bool


_NO_RESOURCE = ("NotFound", "NonExistent", "DoesNotExist", "NoSuch")
_THROTTLED = ("TooManyRequests", "Throttl", "RequestLimitExceeded", "SlowDown")


def classify(error_code: str, message: str, http_status: int | None) -> Failure:
    """A service error as EventBridge reports it: ERROR_CODE and whether it retries."""
    if any(s in error_code for s in _NO_RESOURCE):
        return Failure("NO_RESOURCE", message, retriable=False)
    if "AccessDenied" in error_code or "NotAuthorized" in error_code or http_status == 403:
        return Failure("NO_PERMISSIONS", message, retriable=False)
    if any(s in error_code for s in _THROTTLED) or http_status == 429:
        return Failure("THROTTLING", message, retriable=True)
    if http_status is not None and http_status >= 500:
        return Failure("INTERNAL_ERROR", message, retriable=True)
    return Failure("INVALID_PARAMETER", message, retriable=False)


def dlq_attributes(rule_arn: str, target_arn: str, failure: Failure, retries: int,
                   exhausted: str | None, source_key: str = "RULE_ARN",
                   extra: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """The message attributes EventBridge puts on a dead-lettered event (a rule's: RULE_ARN;
    EventBridge Scheduler's: SCHEDULE_ARN, SCHEDULED_TIME, EXECUTION_ID, ...)."""
    values = {source_key: rule_arn, "TARGET_ARN": target_arn, "ERROR_CODE": failure.code,
              "ERROR_MESSAGE": failure.message[:1024], "RETRY_ATTEMPTS": str(retries),
              **(extra or {})}
    if exhausted:
        values["EXHAUSTED_RETRY_CONDITION"] = exhausted
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}
