"""sqs-consumer: start the Retraining workflow for each queued run (retraining-queue.fifo,
batch 1), at most once (``tradai.retraining.starter``; Powertools idempotency on the run id,
as the backtest consumer does on the job id)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    idempotent_function,
)

from tradai.lambdas.sqs_queue import idempotency_config, queue_record
from tradai.retraining import wiring
from tradai.retraining.starter import RetrainingConsumer, RetrainingStarter
from tradai.settings import aws_client
from tradai.workflows.settings import WorkflowSettings

logger = Logger(service="sqs-consumer")
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
idempotency = idempotency_config("run_id")
persistence = DynamoDBPersistenceLayer(table_name=WorkflowSettings().idempotency,
                                       boto3_client=aws_client("dynamodb"))


@lru_cache(maxsize=1)
def consumer(function_arn: str) -> RetrainingConsumer:
    starter = RetrainingStarter(aws_client("stepfunctions"), wiring.runs(),
                                wiring.settings().state_machine(function_arn), wiring.clock())
    start = idempotent_function(data_keyword_argument="message", persistence_store=persistence,
                                config=idempotency)(starter.start)
    return RetrainingConsumer(aws_client("sqs"), wiring.runs(), start, wiring.clock())


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    work = consumer(context.invoked_function_arn)

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        outcome = work.handle(queue_record(record))
        logger.info("retraining run handled", extra=outcome)
        return outcome

    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
