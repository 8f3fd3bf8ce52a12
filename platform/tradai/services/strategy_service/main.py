"""Entrypoint of the strategy service task: ``python -m tradai.services.strategy_service``."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from tradai.services.strategy_service.app import create_app
from tradai.services.strategy_service.settings import StrategyServiceSettings


def main() -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A request should fail in seconds when MLflow is down, not retry for minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    settings = StrategyServiceSettings()
    app = create_app(settings)
    app.state.loader.warm_up()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
