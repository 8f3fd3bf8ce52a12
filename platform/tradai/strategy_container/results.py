"""Publishing a finished run: result files in the results bucket, an MLflow run (params,
metrics, the files as artifacts) tagged with the job, and the headline on the job item.

Layout in the bucket: ``s3://<results>/backtests/<job_id>/`` with ``result.json`` (headline,
metrics, where everything is), ``stats.json`` (Freqtrade's stats, the same shape as its own
export), ``trades.json``, ``config.json`` (the run's config, secrets removed) and for hyperopt
``hyperopt_best.json`` plus ``hyperopt_epochs.fthypt``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests import results as metrics_of
from tradai.registry.models import StrategyVersion
from tradai.registry.rest_client import Metric, Param
from tradai.strategy_container.errors import ContainerError, DependencyFailed
from tradai.strategy_container.job import JobSpec
from tradai.strategy_container.runner import BacktestOutcome, HyperoptOutcome

log = logging.getLogger(__name__)
PREFIX = "backtests"
MAX_PARAMS = 100  # MLflow's log_batch limit
MAX_PARAM_CHARS = 6000
MAX_UPLOADS = 8  # result files uploaded at once
# A refused run is retried after these waits (3.1 s in all): MlflowRecorder._create_run.
GRANT_WAITS_SECONDS = (0.1, 0.2, 0.4, 0.8, 1.6)


@dataclass
class RunReport:
    """Everything a finished run publishes."""

    job: JobSpec
    version: StrategyVersion
    timerange: str
    pairs: list[str]
    timeframe: str
    metrics: dict[str, float]
    result: dict[str, Any]  # the job item's ``result`` map
    params: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> text

    def tags(self) -> dict[str, str]:
        return {"job_id": self.job.job_id, "strategy": self.version.name,
                "strategy_version": str(self.version.version), "mode": self.job.mode,
                "strategy_class": self.version.strategy_class}

    def summary(self, s3_prefix: str | None, mlflow_url: str | None) -> dict[str, Any]:
        return {**self.tags(), "pairs": self.pairs, "timeframe": self.timeframe,
                "timerange": self.timerange, "result": self.result, "metrics": self.metrics,
                "files": sorted(self.files), "s3_prefix": s3_prefix, "mlflow_url": mlflow_url}


def _dump(data: Any) -> str:
    """Freqtrade's JSON writer: it knows its own types (dates, numpy, NaN)."""
    from freqtrade.misc import dump_json_to_file

    buf = StringIO()
    dump_json_to_file(buf, data)
    return buf.getvalue()


def _common_params(job: JobSpec, ft_config: Mapping[str, Any], timerange: str) -> dict[str, Any]:
    return {"mode": job.mode, "strategy_class": ft_config.get("strategy"),
            "pairs": ",".join(ft_config["exchange"]["pair_whitelist"]),
            "timeframe": ft_config.get("timeframe"), "timerange": timerange,
            "stake_currency": ft_config.get("stake_currency"),
            "stake_amount": ft_config.get("stake_amount"),
            "max_open_trades": ft_config.get("max_open_trades"),
            "dry_run_wallet": ft_config.get("dry_run_wallet"),
            "stoploss": ft_config.get("stoploss"),
            "minimal_roi": json.dumps(ft_config.get("minimal_roi"), sort_keys=True)}


def _config_file(ft_config: Mapping[str, Any]) -> str:
    from freqtrade.configuration import sanitize_config

    return _dump(sanitize_config(dict(ft_config.get("original_config") or {})))


def backtest_report(job: JobSpec, version: StrategyVersion, outcome: BacktestOutcome,
                    ft_config: Mapping[str, Any], timerange: str) -> RunReport:
    stats = outcome.stats
    results = outcome.results
    files = {
        "stats.json": _dump({"metadata": results.get("metadata", {}),
                             "strategy": results["strategy"],
                             "strategy_comparison": results.get("strategy_comparison", [])}),
        "trades.json": _dump(stats.get("trades", [])),
        "config.json": _config_file(ft_config),
    }
    return RunReport(job=job, version=version, timerange=timerange,
                     pairs=list(ft_config["exchange"]["pair_whitelist"]),
                     timeframe=str(ft_config["timeframe"]), metrics=metrics_of.metrics(stats),
                     result=metrics_of.headline(stats),
                     params=_common_params(job, ft_config, timerange), files=files)


def hyperopt_report(job: JobSpec, version: StrategyVersion, outcome: HyperoptOutcome,
                    ft_config: Mapping[str, Any], timerange: str) -> RunReport:
    best = outcome.best
    if not best:
        raise ContainerError(
            f"hyperopt ran {outcome.epochs} epoch(s) of {outcome.strategy} and none had a "
            f"trade; widen the timerange or raise epochs")
    stats = outcome.stats
    params_details = best.get("params_details") or {}
    best_doc = {"strategy": outcome.strategy, "loss": best.get("loss"),
                "epoch": best.get("current_epoch"), "epochs": outcome.epochs,
                "spaces": list(job.spaces), "hyperopt_loss": job.hyperopt_loss,
                "random_state": job.random_state, "params": params_details,
                "params_dict": best.get("params_dict") or {},
                "results_explanation": best.get("results_explanation")}
    files = {"hyperopt_best.json": _dump(best_doc), "stats.json": _dump(stats),
             "trades.json": _dump(stats.get("trades", [])),
             "config.json": _config_file(ft_config)}
    if outcome.results_file.is_file():
        files["hyperopt_epochs.fthypt"] = outcome.results_file.read_text()
    found = metrics_of.metrics(stats)
    loss = best.get("loss")
    if isinstance(loss, int | float):
        found["loss"] = float(loss)
    headline = {**metrics_of.headline(stats), "epochs": outcome.epochs,
                "best_epoch": best.get("current_epoch"), "loss": found.get("loss"),
                "best_params": {k: str(v) for k, v in (best.get("params_dict") or {}).items()}}
    params = {**_common_params(job, ft_config, timerange), "epochs": job.epochs,
              "spaces": ",".join(job.spaces), "hyperopt_loss": job.hyperopt_loss,
              "random_state": job.random_state,
              **{f"best.{k}": v for k, v in (best.get("params_dict") or {}).items()}}
    return RunReport(job=job, version=version, timerange=timerange,
                     pairs=list(ft_config["exchange"]["pair_whitelist"]),
                     timeframe=str(ft_config["timeframe"]), metrics=found, result=headline,
                     params=params, files=files)


class ResultsBucket:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def prefix(self, job_id: str) -> str:
        return f"s3://{self.bucket}/{PREFIX}/{job_id}/"

    def put(self, job_id: str, files: Mapping[str, str]) -> str:
        """Every file, the uploads in flight together (boto3 clients are thread-safe)."""
        if len(files) > 1:
            with ThreadPoolExecutor(max_workers=min(len(files), MAX_UPLOADS)) as uploads:
                for _ in uploads.map(lambda item: self._put(job_id, *item), files.items()):
                    pass
        else:
            for name, text in files.items():
                self._put(job_id, name, text)
        return self.prefix(job_id)

    def _put(self, job_id: str, name: str, text: str) -> None:
        key = f"{PREFIX}/{job_id}/{name}"
        content_type = "application/json" if name.endswith(".json") else "text/plain"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode(),
                               ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise DependencyFailed(f"could not write s3://{self.bucket}/{key}: "
                                   f"{type(exc).__name__}") from exc


class MlflowRecorder:
    """One MLflow run per job, in an experiment per strategy."""

    def __init__(self, client: Any, ui_base: str | None) -> None:
        self.client = client
        self.ui_base = ui_base

    @staticmethod
    def experiment_name(strategy: str) -> str:
        return f"backtests-{strategy}"

    def record(self, report: RunReport, folder: Path) -> tuple[str, str | None]:
        """Returns (run id, the run's UI URL)."""
        try:
            experiment_id = self._experiment(self.experiment_name(report.version.name))
            run = self._create_run(experiment_id, tags=report.tags(),
                                   run_name=f"{report.job.mode}-{report.job.job_id[:8]}")
            run_id = run.info.run_id
            now = int(time.time() * 1000)
            params = [Param(k, str(v)[:MAX_PARAM_CHARS]) for k, v in report.params.items()
                      if v is not None][:MAX_PARAMS]
            metrics = [Metric(k, v, now, 0) for k, v in sorted(report.metrics.items())]
            self.client.log_batch(run_id, metrics=metrics, params=params)
            self.client.log_artifacts(run_id, str(folder), "results")
            self.client.set_terminated(run_id, "FINISHED")
        except Exception as exc:  # MLflow's errors, HTTP failures, local file errors
            raise DependencyFailed(f"could not record the run in MLflow: {exc}") from exc
        url = (f"{self.ui_base}/#/experiments/{experiment_id}/runs/{run_id}"
               if self.ui_base else None)
        return run_id, url

    def _create_run(self, experiment_id: str, **kwargs: Any) -> Any:
        """MLflow grants a new experiment's creator MANAGE after the creation itself (its
        auth plugin's after-request hook): a task of the same strategy that finds the
        experiment in between (the champion's and a challenger's backtests start together)
        is refused for that moment. A refusal is retried for a few seconds; one that lasts
        is this login's real permission, and is raised."""
        for wait in GRANT_WAITS_SECONDS:
            try:
                return self.client.create_run(experiment_id, **kwargs)
            except Exception as exc:
                if getattr(exc, "error_code", None) != "PERMISSION_DENIED":
                    raise
                log.info("MLflow refused a run in experiment %s (its creator's grant may "
                         "still be on its way); again in %.1f s", experiment_id, wait)
                time.sleep(wait)
        return self.client.create_run(experiment_id, **kwargs)

    def _experiment(self, name: str) -> str:
        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            return str(existing.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except Exception:  # created concurrently by another task of the same strategy
            again = self.client.get_experiment_by_name(name)
            if again is None:
                raise
            return str(again.experiment_id)


def write_files(folder: Path, files: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder
