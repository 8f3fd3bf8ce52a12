"""validate-strategy (Backtest Workflow): resolve the job's MLflow version, read its config.

Returns the version with ``validated_at`` (platform clock), which update-status records as the
job's "validated" instant (``tradai.backtests.stages``). Raises ``InvalidStrategy`` (not
retried: the job ends FAILED with its message) or ``RegistryUnavailable`` (retried by the
workflow).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import mlflow.tracking  # noqa: F401 - MLflow's client loads at init, not in a first request
from aws_lambda_powertools import Logger

from tradai.clock import default_clock
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.registry.settings import RegistrySettings
from tradai.settings import aws_client
from tradai.workflows.strategy_check import validate

logger = Logger(service="validate-strategy")
# Fail within the function's 30 s instead of MLflow's long default retry schedule.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


@lru_cache(maxsize=1)
def _registry() -> tuple[MLflowAdapter, ConfigStore]:
    settings = RegistrySettings()
    configs = ConfigStore(aws_client("s3"), settings.require_configs_bucket())
    return MLflowAdapter(settings.require_mlflow_url(), configs), configs


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    registry, configs = _registry()
    version = validate(event, registry, configs)
    logger.info("strategy version valid", extra={"job_id": event.get("job_id"),
                                                 "strategy": version["name"],
                                                 "strategy_version": version["version"]})
    return {**version, "validated_at": default_clock().now()}
