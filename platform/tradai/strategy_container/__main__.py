"""``python -m tradai.strategy_container``: the container's command (task definition
``strategy``)."""

import os
import sys

from tradai.clock import Clock

# The job's "task_started" instant (tradai.backtests.stages): read before the heavy imports
# (Freqtrade, ArcticDB, pandas) so their cost shows in the stage after it, not before.
STARTED = Clock.from_env().now()

# Freqtrade's own entrypoint raises the garbage collector's thresholds before it imports and
# runs anything (``freqtrade.main``); the container runs Freqtrade as a library, so it does
# the same first. With Python's defaults the imports and a 2-pair, 90-day backtest spend
# about a second in full collections (benchmarks/bench_gc_thresholds.py).
from freqtrade.system.gc_setup import gc_set_threshold  # noqa: E402

gc_set_threshold()

from tradai.strategy_container.app import main  # noqa: E402

code = main(started_at=STARTED)
if not os.environ.get("TRADING_MODE"):
    # A job has published everything (S3, MLflow, the item) before main returns: skip the
    # interpreter's teardown of Freqtrade, ArcticDB and pandas (seconds of CPU on a busy
    # host), so the task stops and the workflow goes on sooner. Logs are flushed first.
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
