"""Entrypoint of the strategy service task: ``python -m tradai.services.strategy_service``."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn
from freqtrade.system.gc_setup import gc_set_threshold

from tradai.services.strategy_service.app import create_app
from tradai.services.strategy_service.settings import StrategyServiceSettings


def main() -> int:
    # The service runs Freqtrade in its process (a new version's trial backtest), so it sets
    # the garbage collector up as Freqtrade's own entrypoint does, as the strategy container
    # does: with Python's defaults a 2-pair, 90-day run spends about 1 s of its 4 in collections
    # (benchmarks/bench_gc_thresholds.py).
    gc_set_threshold()
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
