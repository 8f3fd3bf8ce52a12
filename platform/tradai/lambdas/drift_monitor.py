"""drift-monitor (scheduled, every 6 hours): PSI per feature between each model-driven
champion's reference distribution and recent ArcticDB candles (read through the data-collection
service: ``tradai.models.candles``); the drift state in ``drift-state``, CloudWatch metrics, one
alert per incident (``tradai.models.monitor``)."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import mlflow.tracking  # noqa: F401 - MLflow's client loads at init, not in a first request
from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.models.candles import ServiceCandles
from tradai.models.monitor import DriftMonitor, DriftSettings, RegistryModels
from tradai.registry.adapter import MLflowAdapter
from tradai.settings import aws_client

logger = Logger(service="drift-monitor")
# Fail within the function's 120 s instead of MLflow's long default retry schedule.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")


def build_monitor() -> DriftMonitor:
    settings = DriftSettings()
    registry = MLflowAdapter(settings.require_mlflow_url())  # versions and tags: no configs
    return DriftMonitor(
        RegistryModels(registry, registry.client, settings.alias),
        ServiceCandles(settings.require_data_collection_url()), aws_client("dynamodb"),
        settings.table,
        aws_client("sns"), settings.topic(), aws_client("cloudwatch"), default_clock(),
        threshold=settings.threshold, recent_candles=settings.recent_candles)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A scheduled event carries nothing the check needs: every champion is checked.
    report = asdict(build_monitor().check())
    logger.info("drift check", extra=report)
    if report["errors"]:
        # A failed invocation is retried (asynchronous invocation); what was announced stays.
        raise RuntimeError(f"drift check incomplete: {report['errors']}")
    return report
