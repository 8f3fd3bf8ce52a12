"""orphan-scanner (scheduled): end jobs whose workflow died silently, stop tasks nobody owns,
send again tickets that may never have been sent."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.backtests.queue import BacktestQueue
from tradai.clock import default_clock
from tradai.settings import aws_client
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.orphans import OrphanScanner
from tradai.workflows.settings import WorkflowSettings
from tradai.workflows.slots import lease_from
from tradai.workflows.status import JobStatusStore

logger = Logger(service="orphan-scanner")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = WorkflowSettings()
    store = JobStatusStore(aws_client("dynamodb"), settings.table, default_clock(),
                           settings.ttl_days)
    cleaner = TaskCleaner(aws_client("ecs"), settings.cluster_name, settings.strategy_family)
    sfn = aws_client("stepfunctions")
    slots = lease_from(settings, aws_client("dynamodb"), default_clock(), sfn)
    queue = (BacktestQueue(aws_client("sqs"), settings.backtest_queue_url)
             if settings.backtest_queue_url else None)
    report = OrphanScanner(store, sfn, cleaner, slots=slots, queue=queue,
                           start_grace_seconds=settings.start_retry_window_seconds).scan()
    logger.info("orphan scan", extra=report.__dict__)
    return report.__dict__
