"""What the two SQS-triggered consumers (backtest-consumer, sqs-consumer) share: a Powertools
record as the domain's ``QueueRecord``, and how long a started job or run is remembered."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from tradai.clock import default_clock
from tradai.workflows.consumer import QueueRecord

# A key is honoured as started for one day (simulated). Powertools measures the record's
# expiry on the wall clock (datetime.now()), so the day is given in wall seconds: on AWS the
# same 86400, under a dilated local clock one simulated day (the TTL part reads the table's
# ``expiration`` as wall time, so its deletion agrees).
IDEMPOTENCY_SIMULATED_SECONDS = 86400


def idempotency_config(key: str) -> IdempotencyConfig:
    """Idempotency on the message body's ``key`` (the job or run id), for one simulated day."""
    return IdempotencyConfig(
        event_key_jmespath=key,
        expires_after_seconds=max(1, round(default_clock().to_wall(
            IDEMPOTENCY_SIMULATED_SECONDS))))


def queue_record(record: SQSRecord) -> QueueRecord:
    attrs = record.attributes
    return QueueRecord(
        message_id=record.message_id, body=record.body, receipt_handle=record.receipt_handle,
        receive_count=int(attrs.approximate_receive_count or 1),
        group_id=attrs.message_group_id, dedup_id=attrs.message_deduplication_id,
        queue_arn=record.event_source_arn)
