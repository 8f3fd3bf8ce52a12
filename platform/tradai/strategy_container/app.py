"""The container's run, step by step, and its exit code.

1. the job (TRADAI_JOB_ID, TRADAI_MODE, the workflow-state item) and its strategy version;
2. the runnable config; 3. market data from ArcticDB as feather files; 4. Freqtrade;
5. results to S3, MLflow and the item. The item gets the run's instants (task started,
Freqtrade started / finished, published: ``tradai.backtests.stages``) in the writes it gets
anyway, so timing costs no extra request. Any failure writes a user-actionable ``error`` to the
item and ends with exit 1 (the run failed) or 2 (the job or its config is wrong).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from tradai.clock import Clock
from tradai.config.service import ConfigMergeService, base_config
from tradai.data.arctic_uri import StoreNotConfigured
from tradai.data.store import OhlcvStore
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import (
    InvalidStrategyVersion,
    RegistryUnavailable,
    StrategyNotFound,
    StrategyVersion,
)
from tradai.settings import aws_client
from tradai.strategy_container import runner
from tradai.strategy_container.config import Workspace, resolve_timerange
from tradai.strategy_container.errors import (
    EXIT_OK,
    BadJob,
    DependencyFailed,
    ExchangeUnavailable,
    describe,
)
from tradai.strategy_container.job import (
    PROGRESS_PUBLISHED,
    JobItem,
    JobSpec,
    check_mode,
    job_spec,
)
from tradai.strategy_container.prepare import freqtrade_run_config
from tradai.strategy_container.progress import FreqtradeProgress
from tradai.strategy_container.results import (
    MlflowRecorder,
    ResultsBucket,
    RunReport,
    backtest_report,
    hyperopt_report,
    write_files,
)
from tradai.strategy_container.settings import ContainerSettings

log = logging.getLogger("tradai.strategy_container")

T = TypeVar("T")
# How long (simulated seconds) a run waits for the exchange to answer again before it fails:
# a NAT instance is replaced within minutes; a job should outlive that, not fail with it.
EXCHANGE_WAIT_SECONDS = 600.0
EXCHANGE_RETRY_FIRST_S = 5.0
EXCHANGE_RETRY_MAX_S = 60.0

PROGRESS_FREQTRADE_STARTED = 40  # data loaded, Freqtrade starting


class StrategyContainer:
    def __init__(self, settings: ContainerSettings, clock: Clock,
                 env: Mapping[str, str] | None = None, started_at: float | None = None
                 ) -> None:
        self.settings = settings
        self.clock = clock
        self.env = env
        self.item: JobItem | None = None
        self.adapter: MLflowAdapter | None = None  # the registry, once the run has looked
        self.started_at = clock.now() if started_at is None else started_at
        self.freqtrade_finished_at: float | None = None

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> int:
        try:
            self._run()
            return EXIT_OK
        except Exception as exc:
            message, code = describe(exc)
            log.error("job %s failed (exit %d): %s", self.settings.job_id, code, message,
                      exc_info=not isinstance(exc, BadJob))
            self._report_failure(message)
            return code

    def _run(self) -> None:
        s = self.settings
        if not s.job_id:
            raise BadJob("TRADAI_JOB_ID is not set")
        if s.table:
            self.item = JobItem(aws_client("dynamodb"), s.table, s.job_id, self.clock)
        mode = check_mode(s.mode)
        record = self.item.read() if self.item else None
        if self.item and record is None:
            raise BadJob(f"job {s.job_id} does not exist in {s.table}")
        job = job_spec(s.job_id, mode, record, self.env)
        adapter = self.adapter = self._registry()
        version = self._version(adapter, job)
        version_config = self._call_registry(lambda: adapter.load_config(version))
        log.info("job %s: %s %s v%d (%s)", job.job_id, mode, version.name, version.version,
                 version.strategy_class)
        root = Path(tempfile.mkdtemp(prefix=f"tradai-{job.job_id[:8]}-", dir=s.work_dir))
        try:
            report = self._execute(job, adapter, version, version_config, Workspace(root))
            self._publish(report, root / "publish")
        finally:
            if not s.keep_work_dir:
                shutil.rmtree(root, ignore_errors=True)

    def _execute(self, job: JobSpec, adapter: MLflowAdapter, version: StrategyVersion,
                 version_config: dict[str, Any], ws: Workspace) -> RunReport:
        ws.create()
        timerange = resolve_timerange(job.timerange, self.clock.now_datetime())
        assert adapter.config_store is not None  # set by _registry
        merger = ConfigMergeService(adapter.config_store, base_config(self.settings.exchange_url))
        ft_config = freqtrade_run_config(self._store(), adapter.client, merger, job, version,
                                         version_config, timerange, ws,
                                         self.settings.exchange_url, self.settings.egress_proxy)
        # Data loaded and Freqtrade starting are one moment: one write says both.
        if self.item:
            self.item.progress(PROGRESS_FREQTRADE_STARTED, {
                "task_started": self.started_at, "freqtrade_started": self.clock.now()})
        if job.mode == "hyperopt":
            hyperopt = self._exchange_retried(runner.run_hyperopt, ft_config)
            self.freqtrade_finished_at = self.clock.now()
            return hyperopt_report(job, version, hyperopt, ft_config, timerange)
        progress = FreqtradeProgress(self._report_progress, start=PROGRESS_FREQTRADE_STARTED,
                                     end=PROGRESS_PUBLISHED)
        backtest = self._exchange_retried(partial(runner.run_backtest, progress=progress),
                                          ft_config)
        self.freqtrade_finished_at = self.clock.now()
        return backtest_report(job, version, backtest, ft_config, timerange)

    def _exchange_retried(self, run: Callable[[dict[str, Any]], T],
                          ft_config: dict[str, Any]) -> T:
        """Freqtrade loads the exchange's markets before it runs: while the exchange cannot
        be reached, try again with backoff for up to EXCHANGE_WAIT_SECONDS."""
        deadline = self.clock.now() + EXCHANGE_WAIT_SECONDS
        delay = EXCHANGE_RETRY_FIRST_S
        pristine = copy.deepcopy(ft_config)  # Freqtrade edits the config it is given
        while True:
            try:
                return run(ft_config)
            except ExchangeUnavailable as exc:
                if self.clock.now() + delay > deadline:
                    raise
                log.warning("%s; trying again in %.0f s", exc.message, delay)
                self.clock.sleep(delay)
                delay = min(delay * 2, EXCHANGE_RETRY_MAX_S)
                ft_config.clear()
                ft_config.update(copy.deepcopy(pristine))

    def _publish(self, report: RunReport, folder: Path) -> None:
        """The result files go to S3 while MLflow records the run (neither waits for the
        other); ``result.json`` names the MLflow run, so it goes last."""
        s = self.settings
        write_files(folder, report.files)
        url = None
        bucket = ResultsBucket(aws_client("s3"), s.results_bucket) if s.results_bucket else None
        prefix = bucket.prefix(report.job.job_id) if bucket else None
        with ThreadPoolExecutor(max_workers=1) as background:
            uploaded = background.submit(bucket.put, report.job.job_id, report.files) \
                if bucket else None
            if s.mlflow_url:
                adapter = self.adapter or self._registry()
                _, url = MlflowRecorder(adapter.client, s.mlflow_ui_base()).record(report,
                                                                                   folder)
            if uploaded is not None:
                uploaded.result()  # its DependencyFailed, if any, fails the run
        summary = {"result.json": _json(report.summary(prefix, url))}
        if bucket:
            bucket.put(report.job.job_id, summary)
        else:
            write_files(folder, summary)
            log.warning("TRADAI_BUCKET_RESULTS is not set: results kept in %s only", folder)
        if self.item:
            self.item.succeeded(report.result, url, {
                "freqtrade_finished": self.freqtrade_finished_at, "published": self.clock.now()})
        log.info("job %s done: %s; mlflow %s; files %s", report.job.job_id, report.result,
                 url, prefix)

    # -- dependencies -------------------------------------------------------------------------
    def _registry(self) -> MLflowAdapter:
        s = self.settings
        if not s.mlflow_url:
            raise DependencyFailed("TRADAI_MLFLOW_URL is not set: the strategy registry is "
                                   "needed to resolve the version")
        if not s.configs_bucket:
            raise DependencyFailed("TRADAI_BUCKET_CONFIGS is not set: strategy configs live "
                                   "in the configs bucket")
        # Over REST: importing mlflow would cost the task about 0.7 s before its first request.
        return MLflowAdapter(s.mlflow_url, ConfigStore(aws_client("s3"), s.configs_bucket),
                             rest=True)

    def _version(self, adapter: MLflowAdapter, job: JobSpec) -> StrategyVersion:
        version = self._call_registry(
            lambda: adapter.get_model_version(job.strategy, job.version_ref))
        if job.strategy_class and job.strategy_class != version.strategy_class:
            raise BadJob(f"job expects class {job.strategy_class} but {version.name} "
                         f"v{version.version} runs {version.strategy_class}")
        return version

    @staticmethod
    def _call_registry(fn: Any) -> Any:
        try:
            return fn()
        except (StrategyNotFound, InvalidStrategyVersion) as exc:
            raise BadJob(str(exc)) from exc
        except RegistryUnavailable as exc:
            raise DependencyFailed(str(exc)) from exc

    @staticmethod
    def _store() -> OhlcvStore:
        try:
            return OhlcvStore.from_settings()
        except StoreNotConfigured as exc:
            raise DependencyFailed(str(exc)) from exc

    def _report_progress(self, percent: float, phase: str) -> None:
        """Freqtrade's progress to the item, best effort: a lost update only shows the user an
        older percent, so it never fails the run."""
        log.info("job %s: Freqtrade %s, %.0f%%", self.settings.job_id, phase, percent)
        if self.item is None:
            return
        try:
            self.item.progress(percent)
        except Exception as exc:
            log.warning("could not write progress to the job item: %s", exc)

    def _report_failure(self, message: str) -> None:
        if self.item is None:
            return
        try:
            self.item.failed(message)
        except Exception as exc:  # the exit code still tells the workflow
            log.error("could not write the error to the job item: %s", exc)


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True, default=str)


def main(env: Mapping[str, str] | None = None, started_at: float | None = None) -> int:
    """One image, one entrypoint: a trading session when TRADING_MODE is set (dry-run or
    live, a long-running ECS service task), else a job (backtest or hyperopt, an ECS task)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (os.environ if env is None else env).get("TRADING_MODE"):
        from tradai.strategy_container.trading.session import main as trade

        return trade()
    if (os.environ if env is None else env).get("TRADAI_MODE") == "train":
        from tradai.strategy_container.train import main as train

        return train(env)
    return StrategyContainer(ContainerSettings(), Clock.from_env(), env, started_at).run()
