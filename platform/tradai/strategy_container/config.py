"""The runnable Freqtrade config for a job: ConfigMergeService's layers (platform base with the
exchange, the version's config from S3) plus this run's overrides.

The overrides make a backtest self-contained and safe: the job's pairs / timeframe / timerange,
dry run, no export (results are read in memory and published by us), feather data in the
workspace, markets from the configured exchange (the simulator locally), and no parameter file
written next to the strategy source (hyperopt would otherwise change later backtests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tradai.config.exchange import exchange_layer
from tradai.config.merge import deep_merge
from tradai.config.service import ConfigInvalid, ConfigMergeService
from tradai.registry.models import StrategyVersion
from tradai.strategy_container.errors import BadJob
from tradai.strategy_container.job import JobSpec

DEFAULT_TIMERANGE_DAYS = 30
# Keys a job's config_overrides may not set: they decide where code, data and results live.
PLATFORM_KEYS = ("strategy", "strategy_path", "user_data_dir", "datadir", "export",
                 "exportdirectory", "exportfilename", "dataformat_ohlcv", "disableparamexport",
                 "db_url", "api_server", "telegram", "original_config")


@dataclass(frozen=True)
class Workspace:
    """The run's scratch folders (Freqtrade's user_data layout)."""

    root: Path

    @property
    def user_data(self) -> Path:
        return self.root / "user_data"

    @property
    def datadir(self) -> Path:
        return self.user_data / "data" / "binance"

    @property
    def strategies(self) -> Path:
        return self.root / "strategies"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    def create(self) -> Workspace:
        for folder in (self.user_data, self.datadir, self.strategies, self.results):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def resolve_timerange(timerange: str | None, now: datetime,
                      days: int = DEFAULT_TIMERANGE_DAYS) -> str:
    """The job's timerange, or the last ``days`` whole days before today (UTC)."""
    if timerange:
        return timerange
    end = now.astimezone(UTC).date()
    return f"{(end - timedelta(days=days)):%Y%m%d}-{end:%Y%m%d}"


def run_overrides(job: JobSpec, version: StrategyVersion, timerange: str, ws: Workspace,
                  strategy_path: Path, exchange_url: str | None,
                  egress_proxy: str | None = None) -> dict[str, Any]:
    """This run's layer over the version's config (the job's own overrides first, so the
    platform's settings win)."""
    user = dict(job.config_overrides)
    refused = sorted(k for k in user if k in PLATFORM_KEYS)
    if refused:
        raise BadJob(f"config_overrides may not set {', '.join(refused)}")
    platform: dict[str, Any] = {
        "timeframe": job.timeframe or version.timeframe,
        "timerange": timerange,
        "dry_run": True,
        "export": "none",
        "exportdirectory": str(ws.results),
        "dataformat_ohlcv": "feather",
        "user_data_dir": str(ws.user_data),
        "strategy_path": str(strategy_path),
        "disableparamexport": True,
        "pairlists": [{"method": "StaticPairList"}],
        "exchange": {"pair_whitelist": list(job.pairs or version.pairs)},
    }
    if job.mode == "hyperopt":
        platform.update({
            "epochs": job.epochs, "spaces": list(job.spaces),
            "hyperopt_loss": job.hyperopt_loss, "hyperopt_random_state": job.random_state,
            # One worker: deterministic epochs for a seed, and no process pool to start.
            "hyperopt_jobs": 1, "hyperopt_min_trades": 1,
            "hyperopt_ignore_missing_space": True,
        })
    return deep_merge(user, platform, exchange_layer(exchange_url, egress_proxy))


def runnable_config(merger: ConfigMergeService, job: JobSpec, version: StrategyVersion,
                    version_config: Mapping[str, Any], timerange: str, ws: Workspace,
                    strategy_path: Path, exchange_url: str | None,
                    egress_proxy: str | None = None) -> dict[str, Any]:
    overrides = run_overrides(job, version, timerange, ws, strategy_path, exchange_url,
                              egress_proxy)
    try:
        return merger.merge(version, version_config, overrides)
    except ConfigInvalid as exc:
        raise BadJob(f"strategy config of {version.name} v{version.version} is invalid "
                     f"for this job: {exc}") from exc
