"""``python -m tradai.services.strategy_service.task``: the on-demand ``strategy-service-task``
(topology spec, modes ``prepare-config`` and ``validate``), for work too heavy for a request.

Inputs, like the strategy container's job: the environment a RunTask override gives
(``TRADAI_MODE``, ``TRADAI_STRATEGY``, ``TRADAI_STRATEGY_VERSION`` -- a number, an alias or
``latest``, the default --, ``TRADAI_CONFIG_OVERRIDES`` as a JSON object, ``TRADAI_TIMERANGE``,
``TRADAI_VALIDATE_BACKTEST=false`` for a dry load), or the same as arguments, which win::

    python -m tradai.services.strategy_service.task prepare-config --strategy S --version 3 \\
        --overrides '{"stake_amount": 50}'
    python -m tradai.services.strategy_service.task validate --strategy S --version champion

``prepare-config`` stores the version's runnable config and tags the version with it;
``validate`` checks the version and records the verdict as tags (``version_tasks``);
``register-model`` (the Retraining workflow) registers the model the strategy container
trained for run ``TRADAI_JOB_ID`` as a new version, with the config and source of the version
named (the champion), then validates that new version as ``validate`` does
(``register_model``). The result
is one JSON line on stdout; logs go to stderr.

Exit codes: 0 done (prepared; validated and valid), 1 the version is invalid (verdict recorded)
or a dependency failed (nothing recorded; the message says which), 2 bad input (mode, strategy,
version, overrides, timerange), each with a message on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradai.clock import Clock
from tradai.services.strategy_service.settings import StrategyServiceSettings
from tradai.services.strategy_service.version_tasks import TaskDependencyError, TaskInputError

if TYPE_CHECKING:
    from tradai.registry.adapter import MLflowAdapter

log = logging.getLogger("tradai.services.strategy_service.task")

MODES = ("prepare-config", "validate", "register-model")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
VALIDATE_DAYS = 7  # the validation backtest's window when no timerange is given


@dataclass(frozen=True)
class TaskRequest:
    mode: str
    strategy: str
    version: str  # a number, an alias or "latest"
    overrides: dict[str, Any]
    timerange: str | None
    backtest: bool


def parse_request(argv: Sequence[str], env: Mapping[str, str]) -> TaskRequest:
    """Arguments over the environment; TaskInputError names what is wrong."""
    parser = argparse.ArgumentParser(prog="python -m tradai.services.strategy_service.task",
                                     exit_on_error=False)
    parser.add_argument("mode", nargs="?")
    parser.add_argument("--strategy")
    parser.add_argument("--version")
    parser.add_argument("--overrides", help="a JSON object (prepare-config)")
    parser.add_argument("--timerange", help="YYYYMMDD-YYYYMMDD (validate)")
    parser.add_argument("--dry-load", action="store_true",
                        help="validate without the backtest")
    try:
        args = parser.parse_args(list(argv))
    except argparse.ArgumentError as exc:
        raise TaskInputError(f"bad arguments: {exc}") from None
    except SystemExit as exc:  # argparse printed the usage (or --help) already
        if not exc.code:
            raise
        raise TaskInputError("bad arguments (usage above)") from None
    mode = args.mode or env.get("TRADAI_MODE")
    if mode not in MODES:
        raise TaskInputError(f"mode {mode!r} is not one of {', '.join(MODES)} (argument or "
                             "TRADAI_MODE)" if mode else
                             f"no mode: give one of {', '.join(MODES)} (argument or "
                             "TRADAI_MODE)")
    strategy = args.strategy or env.get("TRADAI_STRATEGY")
    if not strategy:
        raise TaskInputError("no strategy: give --strategy or TRADAI_STRATEGY")
    version = args.version or env.get("TRADAI_STRATEGY_VERSION") or "latest"
    raw = args.overrides or env.get("TRADAI_CONFIG_OVERRIDES") or "{}"
    try:
        overrides = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TaskInputError(f"config overrides are not JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise TaskInputError("config overrides must be a JSON object")
    timerange = args.timerange or env.get("TRADAI_TIMERANGE") or None
    if timerange is not None:
        _check_timerange(timerange)
    backtest = env.get("TRADAI_VALIDATE_BACKTEST", "true").strip().lower()
    if backtest not in ("true", "false"):
        raise TaskInputError(f"TRADAI_VALIDATE_BACKTEST must be true or false, got {backtest!r}")
    return TaskRequest(mode=mode, strategy=strategy, version=version, overrides=overrides,
                       timerange=timerange, backtest=backtest == "true" and not args.dry_load)


def _check_timerange(value: str) -> None:
    from datetime import datetime

    start, sep, end = value.partition("-")
    try:
        if not sep or datetime.strptime(start, "%Y%m%d") >= datetime.strptime(end, "%Y%m%d"):
            raise ValueError
    except ValueError:
        raise TaskInputError(f"timerange {value!r} is not YYYYMMDD-YYYYMMDD with the start "
                             "before the end") from None


def run(request: TaskRequest, settings: StrategyServiceSettings, clock: Clock) -> dict[str, Any]:
    """Wire the registry, the store and the checks; the result (or TaskInputError /
    TaskDependencyError, or a verdict of ``invalid``). MLflow and Freqtrade are imported
    here, once the input is known good: bad input is answered without their seconds."""
    from tradai.config.service import ConfigMergeService, base_config
    from tradai.registry.adapter import MLflowAdapter
    from tradai.registry.config_store import ConfigStore
    from tradai.registry.models import RegistryUnavailable
    from tradai.services.strategy_service.version_tasks import (
        prepare_config,
        record_verdict,
        validate_version,
    )
    from tradai.strategy_container.config import resolve_timerange

    if not settings.mlflow_url or not settings.configs_bucket:
        missing = [n for n, v in (("TRADAI_MLFLOW_URL", settings.mlflow_url),
                                  ("TRADAI_BUCKET_CONFIGS", settings.configs_bucket)) if not v]
        raise TaskDependencyError(f"{' and '.join(missing)} not set: the task needs the "
                                  "strategy registry and the configs bucket")
    store = ConfigStore.from_settings(settings.configs_bucket)
    try:
        registry = MLflowAdapter(settings.mlflow_url, store)
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc
    merger = ConfigMergeService(store, base_config(settings.exchange_url))
    if request.mode == "prepare-config":
        return prepare_config(registry, merger, store, request.strategy, request.version,
                              request.overrides).as_dict()
    registered: dict[str, Any] | None = None
    if request.mode == "register-model":
        from tradai.services.strategy_service.register_model import register_challenger
        from tradai.settings import aws_client

        registered = register_challenger(
            registry, aws_client("s3"), os.environ.get("TRADAI_BUCKET_RESULTS"),
            request.strategy, request.version, os.environ.get("TRADAI_JOB_ID"))
        request = TaskRequest(mode="validate", strategy=request.strategy,
                              version=str(registered["version"]), overrides={},
                              timerange=request.timerange, backtest=request.backtest)
    backtest = None
    if request.backtest:
        from tradai.services.strategy_service.trial_backtest import TrialBacktest

        backtest = TrialBacktest(registry.client, merger, settings.exchange_url,
                                 settings.egress_proxy)
    timerange = request.timerange or resolve_timerange(None, clock.now_datetime(),
                                                       days=VALIDATE_DAYS)
    verdict = validate_version(registry, merger, _class_check(registry), backtest,
                               request.strategy, request.version, timerange)
    record_verdict(registry, verdict, clock.now_datetime().isoformat())
    return {**verdict.as_dict(), **({"registered": registered} if registered else {})}


def _class_check(registry: MLflowAdapter) -> Any:
    """The class from the version's registered source (else the packaged strategies), loaded
    by Freqtrade's resolver as the strategy service's validation does."""
    from tradai.registry.models import StrategyVersion
    from tradai.services.strategy_service.loader import StrategyLoader
    from tradai.strategy_container.errors import DependencyFailed
    from tradai.strategy_container.strategy_source import strategy_dir

    def check(version: StrategyVersion, config: Mapping[str, Any]) -> str | None:
        with tempfile.TemporaryDirectory(prefix="tradai-class-") as tmp:
            try:
                folder = strategy_dir(registry.client, version, Path(tmp))
            except DependencyFailed as exc:
                raise TaskDependencyError(exc.message) from exc
            return StrategyLoader(folder).problem(version.strategy_class, config)

    return check


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = os.environ if env is None else env
    try:
        request = parse_request(sys.argv[1:] if argv is None else argv, env)
        result = run(request, StrategyServiceSettings(), Clock.from_env(dict(env)))
    except TaskInputError as exc:
        log.error("bad input (exit %d): %s", EXIT_BAD_INPUT, exc)
        return EXIT_BAD_INPUT
    except TaskDependencyError as exc:
        log.error("failed, nothing recorded (exit %d): %s", EXIT_FAILED, exc)
        return EXIT_FAILED
    print(json.dumps(result, sort_keys=True, default=str), flush=True)
    if result.get("status") == "invalid":
        log.error("%s v%s is invalid (exit %d): %s", result["strategy"], result["version"],
                  EXIT_FAILED, result["reason"])
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
