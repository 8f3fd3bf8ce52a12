"""ValidateStrategy: the job's strategy version exists and its config can be read.

The backend validated the request against the registry at submission, but time has passed
(and a direct queue integration validates nothing): the version is resolved again, by the
pinned number if the job has one, else by alias, else the latest, and its config is read
from S3. A missing strategy, version, alias or config is ``InvalidStrategy``: deterministic,
so the workflow does not retry it and the job ends FAILED with this message. A registry that
does not answer is ``RegistryUnavailable`` (retried).
"""

from __future__ import annotations

from typing import Any, Protocol

from tradai.registry.models import StrategyNotFound, StrategyVersion


class InvalidStrategy(ValueError):
    """The job names a strategy version that cannot run (error name used by the workflow)."""


class VersionLookup(Protocol):
    def get_model_version(self, name: str, alias_or_version: str | int) -> StrategyVersion: ...


class ConfigReader(Protocol):
    def get(self, path: str) -> dict[str, Any]: ...


def reference(job: dict[str, Any]) -> str | int:
    if job.get("version") is not None:
        return int(job["version"])
    return str(job.get("alias") or "latest")


def validate(job: dict[str, Any], registry: VersionLookup, configs: ConfigReader
             ) -> dict[str, Any]:
    name = job.get("strategy")
    if not isinstance(name, str) or not name:
        raise InvalidStrategy("the job names no strategy")
    ref = reference(job)
    try:
        version = registry.get_model_version(name, ref)
    except StrategyNotFound as exc:
        raise InvalidStrategy(f"{exc}; see `tradai strategies show {name}` for its versions "
                              "and aliases") from None
    if job.get("strategy_class") and job["strategy_class"] != version.strategy_class:
        raise InvalidStrategy(f"{name} v{version.version} is class {version.strategy_class!r}, "
                              f"the job expected {job['strategy_class']!r}; submit it again")
    try:
        configs.get(version.config_s3_path)
    except StrategyNotFound as exc:
        raise InvalidStrategy(f"{name} v{version.version}: {exc}; register the version "
                              "again") from None
    return {"name": name, "version": version.version, "strategy_class": version.strategy_class,
            "config_s3_path": version.config_s3_path, "timeframe": version.timeframe,
            "warmup_days": version.warmup_days, "run_id": version.run_id}
