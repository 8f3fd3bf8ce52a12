"""``python -m tradai.strategy_container``: the container's command (task definition
``strategy``)."""

import sys

from tradai.clock import Clock

# The job's "task_started" instant (tradai.backtests.stages): read before the heavy imports
# (Freqtrade, MLflow, ArcticDB) so their cost shows in the stage after it, not before.
STARTED = Clock.from_env().now()

from tradai.strategy_container.app import main  # noqa: E402

sys.exit(main(started_at=STARTED))
