"""backtest-consumer: start the Backtest Workflow for each queued job (SQS FIFO, batch 1).

Partial batch failures come from Powertools' BatchProcessor; a job starts at most once
(Powertools idempotency on the job id, plus the execution name); with every backtest slot held
(``tradai.workflows.slots``) the record waits on the queue (``tradai.workflows.consumer``).
"""

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

from tradai.clock import default_clock
from tradai.lambdas.sqs_queue import idempotency_config, queue_record
from tradai.settings import aws_client
from tradai.workflows.consumer import BacktestConsumer
from tradai.workflows.orchestration import WorkflowStarter
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.slots import lease_from
from tradai.workflows.status import JobStatusStore

logger = Logger(service="backtest-consumer")
# The BatchProcessor for FIFO sources: a failed record also fails the later records of its
# message group in the batch, so an owner's jobs never start out of order.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
settings = WorkflowSettings()
idempotency = idempotency_config("job_id")  # a job id is honoured as started for a day
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency,
                                       boto3_client=aws_client("dynamodb"))
BACKOFF_SIMULATED_SECONDS = 60  # how long a deferred job waits before it is tried again


@lru_cache(maxsize=1)
def consumer(function_arn: str) -> BacktestConsumer:
    clock = default_clock()
    statuses = JobStatusStore(aws_client("dynamodb"), settings.table, clock, settings.ttl_days)
    sfn = aws_client("stepfunctions")
    starter = WorkflowStarter(sfn, statuses, settings.backtest_state_machine(function_arn),
                              lease_from(settings, aws_client("dynamodb"), clock, sfn))
    start = idempotent_function(data_keyword_argument="message", persistence_store=persistence,
                                config=idempotency)(starter.start)
    return BacktestConsumer(aws_client("sqs"), statuses, start,
                            backoff_seconds=max(1, round(clock.to_wall(BACKOFF_SIMULATED_SECONDS))))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    work = consumer(context.invoked_function_arn)

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        outcome = work.handle(queue_record(record))
        logger.info("backtest job handled", extra=outcome)
        return outcome

    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
