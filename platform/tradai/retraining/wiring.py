"""Clients the retraining functions share, built once per warm environment."""

from __future__ import annotations

import os
from functools import lru_cache

import mlflow.tracking  # noqa: F401 - MLflow's client loads at init, not in a first request

from tradai.clock import Clock, default_clock
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.audit import AuditLog
from tradai.registry.promotion import Promotion
from tradai.retraining.runs import RunStore
from tradai.retraining.settings import RetrainingSettings
from tradai.retraining.steps import FreshRegistry
from tradai.settings import aws_client

# Fail within a function's timeout instead of MLflow's long default retry schedule.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")


@lru_cache(maxsize=1)
def settings() -> RetrainingSettings:
    return RetrainingSettings()


def clock() -> Clock:
    return default_clock()


@lru_cache(maxsize=1)
def registry() -> MLflowAdapter:
    return MLflowAdapter(settings().require_mlflow_url())


@lru_cache(maxsize=1)
def runs() -> RunStore:
    return RunStore(aws_client("dynamodb"), settings().runs, settings().ttl_days)


def promotion() -> Promotion:
    return Promotion(FreshRegistry(registry()),  # type: ignore[arg-type]
                     AuditLog(aws_client("dynamodb"), settings().audit, clock()))
