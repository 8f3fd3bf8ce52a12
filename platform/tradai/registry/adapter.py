"""The strategy registry on MLflow: a strategy is a registered model, a version carries the
platform's tags (see ``tags.py``) and points at its Freqtrade config in S3. Stages are aliases.

Calls are kept few: a lookup is one or two requests, a registration about ten.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tradai.registry import tags as T
from tradai.registry.config_store import ConfigStore
from tradai.registry.credentials import AuthSecretUnavailable, ensure_client_credentials
from tradai.registry.models import (
    InvalidStrategyVersion,
    RegistryUnavailable,
    StrategyDetail,
    StrategyNotFound,
    StrategySummary,
    StrategyVersion,
)
from tradai.registry.rest_client import MlflowRestClient, MlflowRestError

REGISTRY_EXPERIMENT = "strategy-registry"
ARTIFACT_DIR = "strategy"
# MLflow answers these for a missing model / version / alias (an unknown alias is
# INVALID_PARAMETER_VALUE in MLflow 3).
_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def content_digest(config: Mapping[str, Any], source_code: str | None) -> str:
    """Identifies what a registration carries, so registering it again can be detected."""
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    h.update(b"\0" + (source_code or "").encode())
    return h.hexdigest()


class MLflowAdapter:
    """``rest=True``: through ``MlflowRestClient`` (lookups, ``load_config`` and a run's
    recording only), for a task that would otherwise import ``mlflow`` for a few requests."""

    def __init__(self, tracking_uri: str, config_store: ConfigStore | None = None, *,
                 rest: bool = False) -> None:
        self.tracking_uri = tracking_uri
        try:  # MLflow's basic auth: callers need not know about it (see credentials.py)
            ensure_client_credentials(tracking_uri)
        except AuthSecretUnavailable as exc:
            raise RegistryUnavailable(str(exc)) from exc
        self.client: Any
        self._errors: tuple[type[Exception], ...]  # what the client raises for MLflow's errors
        if rest:
            self.client, self._errors = MlflowRestClient(tracking_uri), (MlflowRestError,)
        else:
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            self._errors = (MlflowException,)
        self.config_store = config_store

    # -- lookups ------------------------------------------------------------------------------
    def get_model_version(self, name: str, stage_or_alias: str | int = T.LATEST
                          ) -> StrategyVersion:
        """A version by alias (``champion``), number (``3`` or ``"3"``) or ``latest``."""
        kind, ref = T.parse_ref(stage_or_alias)
        try:
            if kind == "version":
                mv = self.client.get_model_version(name, str(ref))
            elif kind == "alias":
                mv = self.client.get_model_version_by_alias(name, str(ref))
            else:
                latest = self._latest_version(self.client.get_registered_model(name))
                if latest is None:
                    raise StrategyNotFound(f"strategy {name!r} has no versions")
                mv = self.client.get_model_version(name, str(latest))
        except self._errors as exc:
            raise self._lookup_error(exc, name, kind, ref) from exc
        return T.from_model_version(mv)

    def list_strategies(self) -> list[StrategySummary]:
        out: list[StrategySummary] = []
        token: str | None = None
        while True:
            page = self._call(lambda t=token: self.client.search_registered_models(
                max_results=200, order_by=["name ASC"], page_token=t))
            out.extend(self._summary(rm) for rm in page)
            token = page.token
            if not token:
                return out

    def get_strategy(self, name: str) -> StrategyDetail:
        try:
            rm = self.client.get_registered_model(name)
        except self._errors as exc:
            raise self._lookup_error(exc, name, "strategy", None) from exc
        summary = self._summary(rm)
        by_version: dict[int, list[str]] = {}
        for alias, version in summary.aliases.items():
            by_version.setdefault(version, []).append(alias)
        versions = []
        for mv in self._versions(name):
            try:
                versions.append(T.from_model_version(mv, by_version.get(int(mv.version), [])))
            except StrategyNotFound:
                continue  # registered outside the platform, or a registration in progress
        return StrategyDetail(**summary.model_dump(),
                              versions=sorted(versions, key=lambda v: v.version))

    def find_version_by_digest(self, name: str, digest: str) -> StrategyVersion | None:
        """The version registered with exactly this content, if any (idempotent seeding)."""
        for mv in self._versions(name):
            if (mv.tags or {}).get(T.CONTENT_SHA256) == digest:
                try:
                    return T.from_model_version(mv)
                except StrategyNotFound:
                    return None
        return None

    def restore_content(self, version: StrategyVersion, config: Mapping[str, Any],
                        source_code: str | None, source_filename: str) -> list[str]:
        """Put back what a registered version points at when it is gone: its config object
        and its run's strategy artifacts (e.g. a registry that outlived its buckets, as the
        local stack's database outlives the emulator's S3 across ``down`` / ``up``).
        Returns what was restored; the version's content itself is not changed."""
        restored = []
        try:
            self.load_config(version)
        except StrategyNotFound:
            self._store().put(version.name, version.version, dict(config))
            restored.append("config")
        run_id = version.run_id
        if run_id and not self._call(lambda: self.client.list_artifacts(run_id, ARTIFACT_DIR)):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / ARTIFACT_DIR
                folder.mkdir()
                (folder / "config.json").write_text(json.dumps(config, indent=2,
                                                               sort_keys=True))
                if source_code is not None:
                    (folder / Path(source_filename).name).write_text(source_code)
                self._call(lambda: self.client.log_artifacts(run_id, str(folder),
                                                             ARTIFACT_DIR))
            restored.append("artifacts")
        return restored

    # -- changes ------------------------------------------------------------------------------
    def register_version(self, name: str, strategy_class: str, config: Mapping[str, Any], *,
                         source_code: str | None = None, source_filename: str | None = None,
                         warmup_days: int = 30, description: str | None = None,
                         aliases: Sequence[str] = (), extra_tags: Mapping[str, str] | None = None,
                         extra_artifacts: Mapping[str, Path] | None = None,
                         digest: str | None = None) -> StrategyVersion:
        """Log the strategy (source and config) to a run, create the model version with the
        platform's tags, upload its config to S3 and point the version at it.

        ``extra_artifacts`` (folder name -> local folder) are logged beside the source under
        ``strategy/`` (a model-driven strategy's ``model/``); ``digest`` then says what the
        version carries, if more than its config and source (``content_digest``'s default)."""
        T.check_name(name)
        for alias in aliases:
            T.check_alias(alias)
        timeframe, pairs = _config_facts(config)
        if warmup_days < 0:
            raise InvalidStrategyVersion("warmup_days must be >= 0", field="warmup_days")
        store = self._store()
        digest = digest or content_digest(config, source_code)
        run_id, artifact_uri = self._log_run(name, strategy_class, config, source_code,
                                             source_filename or f"{strategy_class}.py",
                                             timeframe, pairs, digest, extra_artifacts or {})
        self._ensure_model(name, description)
        # config_s3_path is known once MLflow has numbered the version.
        tags = T.version_tags(timeframe=timeframe, pairs=pairs, warmup_days=warmup_days,
                              strategy_class=strategy_class,
                              extra={**(extra_tags or {}), T.CONTENT_SHA256: digest})
        mv = self._call(lambda: self.client.create_model_version(
            name, f"{artifact_uri}/{ARTIFACT_DIR}", run_id=run_id, tags=tags,
            description=description, await_creation_for=0))
        version = int(mv.version)
        # Until this tag is set the version reads as incomplete (StrategyNotFound), never as a
        # version with someone else's config.
        path = store.put(name, version, dict(config))
        self._call(lambda: self.client.set_model_version_tag(
            name, str(version), T.CONFIG_S3_PATH, path))
        for alias in aliases:
            self.set_alias(name, alias, version)
        tags[T.CONFIG_S3_PATH] = path
        return T.strategy_version(name, version, tags, aliases=aliases, run_id=run_id,
                                  created_ms=mv.creation_timestamp)

    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        T.check_alias(alias)
        kind, ref = T.parse_ref(version)
        if kind != "version":
            raise InvalidStrategyVersion(
                f"an alias points at a version number, got {version!r}", field="version")
        try:
            self.client.set_registered_model_alias(name, alias, str(ref))
        except self._errors as exc:
            raise self._lookup_error(exc, name, "version", ref) from exc

    def set_version_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        """Tags on a version (a verdict, a prepared config): one request per tag."""
        for key, value in tags.items():
            try:
                self.client.set_model_version_tag(name, str(version), key, value)
            except self._errors as exc:
                raise self._lookup_error(exc, name, "version", version) from exc

    def load_config(self, version: StrategyVersion) -> dict[str, Any]:
        return self._store().get(version.config_s3_path)

    # -- internals ----------------------------------------------------------------------------
    def _store(self) -> ConfigStore:
        if self.config_store is None:
            raise RegistryUnavailable("no config store: TRADAI_BUCKET_CONFIGS is not configured")
        return self.config_store

    def _summary(self, rm: Any) -> StrategySummary:
        return StrategySummary(
            name=rm.name, description=rm.description or None,
            latest_version=self._latest_version(rm),
            aliases={a: int(v) for a, v in (rm.aliases or {}).items()})

    @staticmethod
    def _latest_version(rm: Any) -> int | None:
        # Without stages every version is in stage "None", so this is the newest version.
        versions = [int(mv.version) for mv in rm.latest_versions or []]
        return max(versions) if versions else None

    def _versions(self, name: str) -> list[Any]:
        T.check_name(name)  # it goes into a filter string
        return list(self._call(lambda: self.client.search_model_versions(
            f"name = '{name}'", max_results=1000)))

    def _ensure_model(self, name: str, description: str | None) -> None:
        try:
            self.client.create_registered_model(name, description=description)
        except self._errors as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise RegistryUnavailable(f"MLflow refused to create {name!r}: {exc}") from exc

    def _experiment_id(self) -> str:
        exp = self._call(lambda: self.client.get_experiment_by_name(REGISTRY_EXPERIMENT))
        if exp is not None:
            return str(exp.experiment_id)
        try:
            return str(self.client.create_experiment(REGISTRY_EXPERIMENT))
        except self._errors as exc:  # created concurrently
            exp = self.client.get_experiment_by_name(REGISTRY_EXPERIMENT)
            if exp is None:
                raise RegistryUnavailable(f"cannot create the registry experiment: {exc}") from exc
            return str(exp.experiment_id)

    def _log_run(self, name: str, strategy_class: str, config: Mapping[str, Any],
                 source_code: str | None, source_filename: str, timeframe: str,
                 pairs: list[str], digest: str,
                 extra_artifacts: Mapping[str, Path]) -> tuple[str, str]:
        from mlflow.entities import Param, RunTag

        experiment_id = self._experiment_id()
        run = self._call(lambda: self.client.create_run(
            experiment_id, run_name=f"register-{name}",
            tags={"strategy": name, T.STRATEGY_CLASS: strategy_class}))
        run_id = run.info.run_id
        self._call(lambda: self.client.log_batch(run_id, params=[
            Param(T.TIMEFRAME, timeframe), Param(T.PAIRS, ",".join(pairs)[:6000]),
            Param(T.STRATEGY_CLASS, strategy_class)], tags=[RunTag(T.CONTENT_SHA256, digest)]))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / ARTIFACT_DIR
            folder.mkdir()
            (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
            if source_code is not None:
                (folder / Path(source_filename).name).write_text(source_code)
            for sub, src in extra_artifacts.items():
                shutil.copytree(src, folder / Path(sub).name)
            self._call(lambda: self.client.log_artifacts(run_id, str(folder), ARTIFACT_DIR))
        self._call(lambda: self.client.set_terminated(run_id))
        return run_id, run.info.artifact_uri

    def _lookup_error(self, exc: Any, name: str, kind: str,
                      ref: int | str | None) -> Exception:
        if exc.error_code not in _NOT_FOUND_CODES:
            return RegistryUnavailable(f"MLflow at {self.tracking_uri} failed: {exc.message}")
        try:
            self.client.get_registered_model(name)
        except self._errors:
            return StrategyNotFound(f"strategy {name!r} not found")
        if kind == "alias":
            return StrategyNotFound(f"strategy {name!r} has no alias {ref!r}")
        if kind == "version":
            return StrategyNotFound(f"strategy {name!r} has no version {ref}")
        return StrategyNotFound(f"strategy {name!r}: {exc.message}")

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except self._errors as exc:
            raise RegistryUnavailable(f"MLflow at {self.tracking_uri} failed: {exc.message}"
                                      ) from exc


def _config_facts(config: Mapping[str, Any]) -> tuple[str, list[str]]:
    """timeframe and pairs, which every version's tags carry, from its Freqtrade config."""
    timeframe = config.get("timeframe")
    if not isinstance(timeframe, str) or not timeframe:
        raise InvalidStrategyVersion("config.timeframe is required (e.g. '5m')",
                                     field="config.timeframe")
    exchange = config.get("exchange")
    pairs = exchange.get("pair_whitelist") if isinstance(exchange, Mapping) else None
    if not isinstance(pairs, list) or not pairs or not all(isinstance(p, str) for p in pairs):
        raise InvalidStrategyVersion("a non-empty list of pairs is required",
                                     field="config.exchange.pair_whitelist")
    return timeframe, list(pairs)
