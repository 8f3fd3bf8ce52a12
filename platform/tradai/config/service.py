"""ConfigMergeService: a runnable Freqtrade config for one strategy version.

Layers, later ones win (see ``merge.deep_merge``):
1. the platform base config (``base.json``) plus where the exchange is,
2. the strategy version's config from S3 (its ``config_s3_path`` tag),
3. runtime overrides from the caller.
The strategy class is pinned by the version: an override may not swap it. The result is
checked against the schema before anyone runs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from tradai.config.exchange import exchange_layer
from tradai.config.merge import deep_merge
from tradai.config.schema import FieldError, schema_errors
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import StrategyVersion

BASE_CONFIG_FILE = Path(__file__).with_name("base.json")


class ConfigInvalid(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


@cache
def _base_file() -> dict[str, Any]:
    return dict(json.loads(BASE_CONFIG_FILE.read_text()))


def base_config(exchange_url: str | None = None) -> dict[str, Any]:
    return deep_merge(_base_file(), exchange_layer(exchange_url))


class ConfigMergeService:
    def __init__(self, store: ConfigStore, base: Mapping[str, Any]) -> None:
        self.store = store
        self.base = dict(base)

    def load_config(self, config_s3_path: str) -> dict[str, Any]:
        return self.store.get(config_s3_path)

    def merge(self, version: StrategyVersion, version_config: Mapping[str, Any],
              overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        pinned = overrides.get("strategy") if overrides else None
        if pinned is not None and pinned != version.strategy_class:
            raise ConfigInvalid([FieldError(
                field="overrides.strategy",
                reason=f"version {version.version} of {version.name!r} runs "
                       f"{version.strategy_class}; register a new version to change it")])
        merged = deep_merge(self.base, version_config, {"strategy": version.strategy_class},
                            overrides)
        errors = schema_errors(merged)
        if errors:
            raise ConfigInvalid(errors)
        return merged

    def prepare(self, version: StrategyVersion, overrides: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
        """Pattern 4 of the architecture: load the version's config, apply overrides."""
        return self.merge(version, self.load_config(version.config_s3_path), overrides)
