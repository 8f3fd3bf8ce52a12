"""Register the example strategies shipped in ``tradai/strategies`` (idempotent).

``python -m tradai.registry.seed`` prints one JSON line: what was registered and what was
already there. A version is identified by the digest of its config and source, so running it
again registers nothing new; a changed example becomes a new version. A version already there
whose config object or artifacts are gone (a registry that outlived its buckets) gets them
back.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tradai.registry.adapter import MLflowAdapter, content_digest
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import StrategyNotFound
from tradai.registry.settings import RegistrySettings
from tradai.strategies import STRATEGIES_DIR

EXAMPLES_FILE = STRATEGIES_DIR / "examples.json"


@dataclass(frozen=True)
class Example:
    name: str
    strategy_class: str
    source: Path
    config: Path
    description: str = ""
    warmup_days: int = 30
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedResult:
    name: str
    version: int
    registered: bool  # False: this exact content was already registered


def load_examples(path: Path = EXAMPLES_FILE) -> list[Example]:
    entries = json.loads(path.read_text())
    return [Example(name=e["name"], strategy_class=e["strategy_class"],
                    source=path.parent / e["source"], config=path.parent / e["config"],
                    description=e.get("description", ""),
                    warmup_days=int(e.get("warmup_days", 30)),
                    aliases=tuple(e.get("aliases", ()))) for e in entries]


def seed(adapter: MLflowAdapter, examples: list[Example] | None = None) -> list[SeedResult]:
    results = []
    for ex in examples if examples is not None else load_examples():
        config: dict[str, Any] = json.loads(ex.config.read_text())
        source = ex.source.read_text()
        existing = adapter.find_version_by_digest(ex.name, content_digest(config, source))
        if existing is not None:
            # its config and artifacts may be gone while the registry kept the version
            adapter.restore_content(existing, config, source, ex.source.name)
            results.append(SeedResult(ex.name, existing.version, registered=False))
            continue
        taken = _existing_aliases(adapter, ex.name)
        version = adapter.register_version(
            ex.name, ex.strategy_class, config, source_code=source,
            source_filename=ex.source.name, warmup_days=ex.warmup_days,
            description=ex.description, aliases=[a for a in ex.aliases if a not in taken],
            extra_tags={"origin": "example"})
        results.append(SeedResult(ex.name, version.version, registered=True))
    return results


def _existing_aliases(adapter: MLflowAdapter, name: str) -> set[str]:
    """Aliases a user may have moved stay where they are."""
    try:
        return set(adapter.get_strategy(name).aliases)
    except StrategyNotFound:
        return set()


def main() -> int:
    settings = RegistrySettings()
    adapter = MLflowAdapter(settings.require_mlflow_url(),
                            ConfigStore.from_settings(settings.require_configs_bucket()))
    results = seed(adapter)
    print(json.dumps({"results": [asdict(r) for r in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
