"""What the on-demand ``strategy-service-task`` does for one registered strategy version (the
architecture's config preparation and validation too heavy for a request):

- :func:`prepare_config`: the version's runnable Freqtrade config (ConfigMergeService: base +
  the version's config from S3 + overrides), stored content-addressed beside the version's
  config (``strategies/<name>/v<N>/prepared/<sha256[:16]>.json``) and named on the version;
- :func:`validate_version`: the version end to end (its config loads and passes the schema,
  its strategy class imports through Freqtrade's resolver, a short backtest runs through the
  strategy container's path), and :func:`record_verdict` writes the verdict as tags on the
  MLflow model version.

A verdict is about the version: a failure of the version itself (a config that does not load,
a class that does not import, a backtest its strategy crashes) makes it ``invalid``; a
dependency that is down (MLflow, S3, the market data store, the exchange) decides nothing and
is raised as :class:`TaskDependencyError`, no verdict recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tradai.config.service import ConfigInvalid, ConfigMergeService
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import (
    InvalidStrategyVersion,
    RegistryUnavailable,
    StrategyNotFound,
    StrategyVersion,
)

# Tags written on the MLflow model version.
PREPARED_CONFIG = "prepared_config_s3_path"
VALIDATION_STATUS = "validation_status"  # "valid" | "invalid"
VALIDATION_REASON = "validation_reason"  # why invalid (absent when valid)
VALIDATION_CHECKS = "validation_checks"  # the checks that ran, comma-separated, in order
VALIDATION_BACKTEST = "validation_backtest"  # JSON: timerange and the backtest's headline
VALIDATED_AT = "validated_at"  # ISO 8601, UTC
VALID, INVALID = "valid", "invalid"
CHECK_CONFIG, CHECK_CLASS, CHECK_BACKTEST = "config", "class", "backtest"
MAX_REASON_CHARS = 1000  # MLflow allows 5000 per tag value; keep it readable in the UI


class TaskInputError(ValueError):
    """The request names no strategy, an unknown version, malformed overrides: exit 2."""


class TaskDependencyError(RuntimeError):
    """A service the task needs failed; rerunning may help: exit 1, nothing recorded."""


class VersionFailed(Exception):
    """Raised by a check (class import, backtest) when the version itself is at fault."""


class Registry(Protocol):
    """What the task needs of ``tradai.registry.adapter.MLflowAdapter``."""

    def get_model_version(self, name: str, stage_or_alias: str | int = ...
                          ) -> StrategyVersion: ...

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None: ...


# (version, its merged config) -> None when the class loads, else why not.
ClassCheck = Callable[[StrategyVersion, Mapping[str, Any]], str | None]
# (version, its config from S3, timerange) -> the backtest's headline; VersionFailed when the
# version's strategy fails it, TaskDependencyError when something else does.
Backtest = Callable[[StrategyVersion, Mapping[str, Any], str], Mapping[str, Any]]


@dataclass(frozen=True)
class Prepared:
    strategy: str
    version: int
    strategy_class: str
    config_s3_path: str  # the prepared config
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "version": self.version,
                "strategy_class": self.strategy_class,
                "config_s3_path": self.config_s3_path, "sha256": self.sha256}


@dataclass(frozen=True)
class Verdict:
    strategy: str
    version: int
    valid: bool
    checks: tuple[str, ...]  # the checks that ran (the failed one last)
    reason: str | None = None
    backtest: dict[str, Any] | None = field(default=None)

    @property
    def status(self) -> str:
        return VALID if self.valid else INVALID

    def tags(self, at: str) -> dict[str, str]:
        tags = {VALIDATION_STATUS: self.status, VALIDATION_CHECKS: ",".join(self.checks),
                VALIDATED_AT: at, VALIDATION_REASON: _clip(self.reason or "")}
        if self.backtest is not None:
            tags[VALIDATION_BACKTEST] = json.dumps(self.backtest, sort_keys=True, default=str)
        return tags

    def as_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "version": self.version, "status": self.status,
                "checks": list(self.checks), "reason": self.reason,
                "backtest": self.backtest}


def resolve(registry: Registry, strategy: str, ref: str | int) -> StrategyVersion:
    try:
        return registry.get_model_version(strategy, ref)
    except (StrategyNotFound, InvalidStrategyVersion) as exc:
        raise TaskInputError(str(exc)) from exc
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc


def prepare_config(registry: Registry, merger: ConfigMergeService, store: ConfigStore,
                   strategy: str, ref: str | int,
                   overrides: Mapping[str, Any] | None = None) -> Prepared:
    """Render the version's runnable config, store it, name it on the version."""
    version = resolve(registry, strategy, ref)
    try:
        config = merger.prepare(version, overrides)
    except ConfigInvalid as exc:  # the overrides (or the stored config) break the schema
        raise TaskInputError(f"{version.name} v{version.version}: the prepared config is "
                             f"invalid: {exc}") from exc
    except StrategyNotFound as exc:  # its config object is gone
        raise TaskInputError(str(exc)) from exc
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc
    try:
        path, digest = store.put_prepared(version.name, version.version, config)
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc
    _tag(registry, version, {PREPARED_CONFIG: path})
    return Prepared(version.name, version.version, version.strategy_class, path, digest)


def validate_version(registry: Registry, merger: ConfigMergeService, class_check: ClassCheck,
                     backtest: Backtest | None, strategy: str, ref: str | int,
                     timerange: str) -> Verdict:
    """Run the checks in order, stopping at the first the version fails."""
    version = resolve(registry, strategy, ref)
    checks: list[str] = [CHECK_CONFIG]

    def failed(reason: str) -> Verdict:
        return Verdict(version.name, version.version, False, tuple(checks), reason)

    try:
        stored = merger.load_config(version.config_s3_path)
        merged = merger.merge(version, stored)
    except StrategyNotFound as exc:  # missing or not a JSON object
        return failed(f"its config does not load: {exc}")
    except ConfigInvalid as exc:
        return failed(f"its config is invalid: {exc}")
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc
    checks.append(CHECK_CLASS)
    problem = class_check(version, merged)
    if problem:
        return failed(f"strategy class {version.strategy_class} does not load: {problem}")
    if backtest is None:  # a dry load only
        return Verdict(version.name, version.version, True, tuple(checks))
    checks.append(CHECK_BACKTEST)
    try:
        headline = dict(backtest(version, stored, timerange))
    except VersionFailed as exc:
        return failed(f"its backtest over {timerange} failed: {exc}")
    return Verdict(version.name, version.version, True, tuple(checks),
                   backtest={"timerange": timerange, **headline})


def record_verdict(registry: Registry, verdict: Verdict, at: str) -> None:
    _tag(registry, verdict, verdict.tags(at))


def _tag(registry: Registry, version: StrategyVersion | Verdict,
         tags: Mapping[str, str]) -> None:
    name = version.name if isinstance(version, StrategyVersion) else version.strategy
    try:
        registry.set_version_tags(name, version.version, tags)
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + "..."
