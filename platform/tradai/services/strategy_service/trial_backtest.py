"""A short backtest of a registered version for its validation, through the strategy
container's own steps (``tradai.strategy_container``: its config overrides, ArcticDB candles as
feather files, Freqtrade in-process), in a scratch folder removed afterwards; nothing is
published (no MLflow run, no results object, no job item).

The container's errors are sorted here: what the version is to blame for (its strategy fails to
load or raises, Freqtrade refuses its config) fails the validation; what it is not (no candles
yet, the store, MLflow or the exchange unreachable) is a dependency failure.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradai.backtests import results as metrics_of
from tradai.config.service import ConfigMergeService
from tradai.data.arctic_uri import StoreNotConfigured
from tradai.data.store import OhlcvStore
from tradai.registry.models import StrategyVersion
from tradai.services.strategy_service.version_tasks import TaskDependencyError, VersionFailed
from tradai.strategy_container import runner
from tradai.strategy_container.config import Workspace
from tradai.strategy_container.errors import ContainerError, DependencyFailed, NoMarketData
from tradai.strategy_container.job import JobSpec
from tradai.strategy_container.prepare import freqtrade_run_config

log = logging.getLogger(__name__)


class TrialBacktest:
    """Callable as :data:`version_tasks.Backtest`."""

    def __init__(self, mlflow_client: Any, merger: ConfigMergeService,
                 exchange_url: str | None, egress_proxy: str | None = None,
                 work_dir: str | None = None) -> None:
        self.client = mlflow_client
        self.merger = merger
        self.exchange_url = exchange_url
        self.egress_proxy = egress_proxy
        self.work_dir = work_dir

    def __call__(self, version: StrategyVersion, version_config: Mapping[str, Any],
                 timerange: str) -> dict[str, Any]:
        root = Path(tempfile.mkdtemp(prefix="tradai-validate-", dir=self.work_dir))
        try:
            return self._run(version, version_config, timerange, Workspace(root).create())
        except (NoMarketData, DependencyFailed) as exc:  # ExchangeUnavailable is one
            raise TaskDependencyError(exc.message) from exc
        except ContainerError as exc:  # BadJob, StrategyFailed, Freqtrade's own refusal
            raise VersionFailed(exc.message) from exc
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _run(self, version: StrategyVersion, version_config: Mapping[str, Any],
             timerange: str, ws: Workspace) -> dict[str, Any]:
        job = JobSpec(job_id=f"validate-{version.name}-v{version.version}", mode="backtest",
                      strategy=version.name, version=version.version, timerange=timerange)
        try:
            store = OhlcvStore.from_settings()
        except StoreNotConfigured as exc:
            raise DependencyFailed(str(exc)) from exc
        ft_config = freqtrade_run_config(store, self.client, self.merger, job, version,
                                         version_config, timerange, ws, self.exchange_url,
                                         self.egress_proxy)
        outcome = runner.run_backtest(ft_config)
        headline = dict(metrics_of.headline(outcome.stats))
        log.info("%s v%d: backtest over %s: %s", version.name, version.version, timerange,
                 headline)
        return headline
