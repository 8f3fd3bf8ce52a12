"""The backend API application and its entrypoint (``python -m tradai.services.backend_api``)."""

from __future__ import annotations

import logging
import os

import uvicorn
from fastapi import FastAPI

from tradai.services.backend_api import errors
from tradai.services.backend_api.routers import (
    backtests,
    data,
    health,
    mlflow_writes,
    retraining,
    strategies,
    trading,
)
from tradai.services.backend_api.settings import backend_settings


def create_app() -> FastAPI:
    app = FastAPI(
        title="TradAI backend API", version="1.0.0",
        description="Strategies, market data freshness, backtests and trading sessions. "
                    "Every /api/v1 route "
                    "needs a Cognito token (Authorization: Bearer); what a caller may do "
                    "comes from its Cognito groups (viewer, researcher, trader, operator): "
                    "403 names the role needed.")
    for router in (health.router, strategies.router, data.router, backtests.router,
                   trading.router, mlflow_writes.router, retraining.router):
        app.include_router(router)
    errors.install(app)
    return app


app = create_app()

# A synchronous query must answer in well under a second or fail: MLflow's client would
# otherwise retry a 503 with backoff for minutes. Deployments may override both.
MLFLOW_CLIENT_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                          "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                          "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def main() -> None:
    settings = backend_settings()
    for key, value in MLFLOW_CLIENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False,
                log_level="info")
