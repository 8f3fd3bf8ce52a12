"""data-collection-proxy (Backtest Workflow): ensure the job's candles are stored.

Returns the data service's answer with ``ready_at`` (platform clock), the job's "data_ready"
instant (``tradai.backtests.stages``). Raises ``DataServiceUnavailable`` (retried) or
``DataRequestRefused`` (the job ends FAILED).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.workflows.market_data import DataCollectionClient, DataServiceUnavailable, data_range
from tradai.workflows.settings import WorkflowSettings

logger = Logger(service="data-collection-proxy")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    url = WorkflowSettings().data_collection_url
    if not url:
        raise DataServiceUnavailable("TRADAI_DATA_COLLECTION_URL is not set")
    version = (event.get("validation") or {}).get("strategy") or {}
    rng = data_range(event.get("timerange"), int(version.get("warmup_days") or 0),
                     default_clock().now_datetime())
    result = DataCollectionClient(url).ensure(
        list(event["pairs"]), event.get("timeframe") or version["timeframe"], rng,
        context.get_remaining_time_in_millis() / 1000)
    logger.info("market data ready", extra={"job_id": event.get("job_id"), **result})
    return {**result, "ready_at": default_clock().now()}
