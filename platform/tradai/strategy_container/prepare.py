"""Everything before Freqtrade runs a job: the candles are there, the strategy's code is
fetched, the config layers are merged, the candles are written as feather files. Shared by the
container's jobs and the strategy service's trial backtest, so a validation runs a version
exactly as a backtest job would."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tradai.config.service import ConfigMergeService
from tradai.data.store import OhlcvStore
from tradai.registry.models import StrategyVersion
from tradai.strategy_container import data, runner
from tradai.strategy_container.config import Workspace, runnable_config
from tradai.strategy_container.job import JobSpec


def freqtrade_run_config(store: OhlcvStore, mlflow_client: Any, merger: ConfigMergeService,
                         job: JobSpec, version: StrategyVersion,
                         version_config: Mapping[str, Any], timerange: str, ws: Workspace,
                         exchange_url: str | None, egress_proxy: str | None) -> dict[str, Any]:
    """Freqtrade's config for ``job`` in ``ws``, its data exported (raises NoMarketData when
    the window is not in the store)."""
    from tradai.strategy_container.strategy_source import strategy_dir

    timeframe = job.timeframe or version.timeframe
    data.check_available(store, list(job.pairs or version.pairs), timeframe,
                         data.window(timerange, timeframe, 0))
    code_dir: Path = strategy_dir(mlflow_client, version, ws.strategies)
    config = runnable_config(merger, job, version, version_config, timerange, ws,
                             code_dir, exchange_url, egress_proxy)
    ft_config = runner.freqtrade_config(config, ws, job.mode)
    win = data.window(timerange, ft_config["timeframe"], runner.startup_candles(ft_config))
    data.export_feather(store, list(ft_config["exchange"]["pair_whitelist"]),
                        ft_config["timeframe"], win, ws.datadir)
    return ft_config
