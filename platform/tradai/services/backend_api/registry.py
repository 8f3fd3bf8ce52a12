"""The strategy registry as the backend uses it: MLflow when ``TRADAI_MLFLOW_URL`` is set.

Lookups are cached for a few seconds: a submission validates against the registry on the
< 100 ms path, and versions do not change (an alias moving is seen within the cache time).
Only answers are cached, never "not found" or failures. One lookup per key runs at a time:
requests that miss together wait for its answer instead of each asking MLflow (a storm of
submissions once sent ten lookups of the same alias at each expiry, and MLflow under that load
answered 503).
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tradai.backtests.validation import StrategyRegistry
from tradai.registry.models import (
    InvalidStrategyVersion,
    StrategyDetail,
    StrategySummary,
    StrategyVersion,
)
from tradai.registry.tags import parse_ref

T = TypeVar("T")
# Where the adapter may live; the first that imports wins.
_ADAPTER_MODULES = ("tradai.registry", "tradai.registry.mlflow_adapter",
                    "tradai.registry.adapter", "tradai.registry.mlflow")


class RegistryUnavailable(RuntimeError):
    pass


def mlflow_registry(tracking_uri: str) -> StrategyRegistry:
    for name in _ADAPTER_MODULES:
        try:
            adapter = getattr(importlib.import_module(name), "MLflowAdapter", None)
        except ImportError:
            continue
        if adapter is not None:
            return adapter(tracking_uri)  # type: ignore[no-any-return]
    raise RegistryUnavailable("the MLflow registry adapter is not installed in this build")


class CachedRegistry:
    def __init__(self, inner: StrategyRegistry, ttl_seconds: float) -> None:
        self.inner = inner
        self.ttl = ttl_seconds
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._fetching: dict[tuple[Any, ...], threading.Lock] = {}  # one per key, kept: few keys
        self._lock = threading.Lock()

    def _cached(self, key: tuple[Any, ...], fn: Callable[[], T]) -> T:
        if self.ttl <= 0:  # caching off: every request asks
            return fn()
        hit = self._fresh(key)
        if hit is not None:
            return hit[0]  # type: ignore[no-any-return]
        with self._lock:
            fetching = self._fetching.setdefault(key, threading.Lock())
        with fetching:  # the first miss asks; the others wait for its answer
            hit = self._fresh(key)
            if hit is not None:
                return hit[0]  # type: ignore[no-any-return]
            now = time.monotonic()
            value = fn()
            with self._lock:
                self._cache[key] = (now, value)
            return value

    def _fresh(self, key: tuple[Any, ...]) -> tuple[Any] | None:
        with self._lock:
            hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return (hit[1],)
        return None

    def list_strategies(self) -> list[StrategySummary]:
        return self._cached(("list",), self.inner.list_strategies)

    def get_strategy(self, name: str) -> StrategyDetail:
        return self._cached(("strategy", name), lambda: self.inner.get_strategy(name))

    def get_model_version(self, name: str, alias_or_version: str | int) -> StrategyVersion:
        if self.ttl > 0:
            known = self._from_detail(name, alias_or_version)
            if known is not None:
                return known
        return self._cached(("version", name, str(alias_or_version)),
                            lambda: self.inner.get_model_version(name, alias_or_version))

    def _from_detail(self, name: str, ref: str | int) -> StrategyVersion | None:
        """The version from a fresh cached ``get_strategy`` answer, which lists every version
        with its aliases: a submission naming no version reads the strategy for its latest
        version, then that version, which is then one MLflow lookup instead of two (three
        MLflow requests instead of four; each costs MLflow a basic-auth check). The same
        freshness as a cached version answer."""
        hit = self._fresh(("strategy", name))
        if hit is None:
            return None
        detail: StrategyDetail = hit[0]
        try:
            kind, value = parse_ref(ref)
        except InvalidStrategyVersion:
            return None  # the registry's own answer says why
        number = (value if kind == "version" else detail.latest_version if kind == "latest"
                  else detail.aliases.get(str(value)))
        return next((v for v in detail.versions if v.version == number), None)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """A write: straight to the registry, then this strategy's cached reads are dropped."""
        self.inner.set_alias(name, alias, version)  # type: ignore[attr-defined]
        self.invalidate(name)

    def fresh_strategy(self, name: str) -> StrategyDetail:
        """Uncached: what a write decides on must be the registry's current state."""
        detail = self.inner.get_strategy(name)
        with self._lock:
            self._cache[("strategy", name)] = (time.monotonic(), detail)
        return detail

    def invalidate(self, name: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._cache if name is None or (len(k) > 1 and k[1] == name)
                        or k == ("list",)]:
                self._cache.pop(key, None)

