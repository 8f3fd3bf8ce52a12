"""Register a model-driven strategy version: train on a window of ArcticDB candles, then log the
strategy's source, its config and its model folder to MLflow as one version.

The version's tags say what the drift monitor and the retraining workflow read without opening
the model: where the model and its reference distribution are (artifact paths of the version's
run), the feature set, and the training window (exchange, pair, timeframe, start, end). A
version is identified by the digest of its config, source and model folder; training is
deterministic, so registering the same window again finds the existing version.

``python -m tradai.models.registration --start 2026-01-05 --end 2026-01-19`` trains on the
store's candles (``DataSettings``) and registers ``ModelProbability``; it prints one JSON line.
The local stack does not run it at ``up``: ArcticDB holds no candles until data is collected.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from tradai.models import artifact
from tradai.models.tags import (
    MODEL_ARTIFACT,
    MODEL_FEATURE_SET,
    MODEL_REFERENCE,
    TRAINING_END,
    TRAINING_EXCHANGE,
    TRAINING_PAIR,
    TRAINING_START,
    TRAINING_TIMEFRAME,
)
from tradai.models.training import TrainedModel, TrainingWindow, train_from_store
from tradai.registry.adapter import ARTIFACT_DIR, content_digest
from tradai.registry.models import StrategyVersion
from tradai.strategies import CONFIGS_DIR, STRATEGIES_DIR

NAME = STRATEGY_CLASS = "ModelProbability"
SOURCE = STRATEGIES_DIR / "model_probability.py"
CONFIG = CONFIGS_DIR / f"{NAME}.json"
WARMUP_DAYS = 1  # the features' 100 candles of 5m fit in a day

REFERENCE_PATH = f"{ARTIFACT_DIR}/{artifact.MODEL_DIR}/{artifact.REFERENCE_FILE}"


class Registry(Protocol):
    def find_version_by_digest(self, name: str, digest: str) -> StrategyVersion | None: ...

    def register_version(self, name: str, strategy_class: str, config: Mapping[str, Any], *,
                         source_code: str | None = None, source_filename: str | None = None,
                         warmup_days: int = 30, description: str | None = None,
                         aliases: Sequence[str] = (),
                         extra_tags: Mapping[str, str] | None = None,
                         extra_artifacts: Mapping[str, Path] | None = None,
                         digest: str | None = None) -> StrategyVersion: ...


@dataclass(frozen=True)
class Registered:
    version: StrategyVersion
    registered: bool  # False: this exact model was already registered


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def model_tags(model: TrainedModel) -> dict[str, str]:
    w = model.window
    return {MODEL_ARTIFACT: f"{ARTIFACT_DIR}/{artifact.MODEL_DIR}",
            MODEL_REFERENCE: REFERENCE_PATH, MODEL_FEATURE_SET: model.feature_set,
            TRAINING_EXCHANGE: w.exchange, TRAINING_PAIR: w.pair,
            TRAINING_TIMEFRAME: w.timeframe, TRAINING_START: iso(w.start_ms),
            TRAINING_END: iso(w.end_ms)}


def folder_digest(config: Mapping[str, Any], source: str, folder: Path) -> str:
    """What the version carries: config, source and every file of the model folder."""
    h = hashlib.sha256(content_digest(config, source).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(b"\0" + path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def register_model_version(registry: Registry, model: TrainedModel, *, name: str = NAME,
                           strategy_class: str = STRATEGY_CLASS,
                           config: Mapping[str, Any] | None = None,
                           source: str | None = None, source_filename: str = SOURCE.name,
                           aliases: Sequence[str] = (), description: str | None = None,
                           extra_tags: Mapping[str, str] | None = None) -> Registered:
    cfg = dict(config) if config is not None else json.loads(CONFIG.read_text())
    code = source if source is not None else SOURCE.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        folder = artifact.save(model, Path(tmp) / artifact.MODEL_DIR)
        digest = folder_digest(cfg, code, folder)
        existing = registry.find_version_by_digest(name, digest)
        if existing is not None:
            return Registered(existing, registered=False)
        version = registry.register_version(
            name, strategy_class, cfg, source_code=code, source_filename=source_filename,
            warmup_days=WARMUP_DAYS, aliases=aliases,
            description=description or (f"P(up in {model.horizon} candles) from a gradient "
                                        f"boosting model on {model.window.pair} "
                                        f"{model.window.timeframe}"),
            extra_tags={**model_tags(model), **(extra_tags or {})},
            extra_artifacts={artifact.MODEL_DIR: folder}, digest=digest)
    return Registered(version, registered=True)


def _ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").timestamp() * 1000)


def main(argv: Sequence[str] | None = None) -> int:
    from tradai.data.settings import DataSettings
    from tradai.data.store import OhlcvStore
    from tradai.registry.adapter import MLflowAdapter
    from tradai.registry.config_store import ConfigStore
    from tradai.registry.settings import RegistrySettings

    parser = argparse.ArgumentParser(prog="python -m tradai.models.registration")
    parser.add_argument("--pair", default="BTC/USDT")
    parser.add_argument("--timeframe", default="5m")
    parser.add_argument("--start", required=True, help="first candle (UTC date or time)")
    parser.add_argument("--end", required=True, help="last candle (UTC date or time)")
    parser.add_argument("--alias", action="append", default=[])
    args = parser.parse_args(argv)
    window = TrainingWindow(args.pair, args.timeframe, _ms(args.start), _ms(args.end))
    model = train_from_store(OhlcvStore.from_settings(DataSettings()), window)
    settings = RegistrySettings()
    adapter = MLflowAdapter(settings.require_mlflow_url(),
                            ConfigStore.from_settings(settings.require_configs_bucket()))
    done = register_model_version(adapter, model, aliases=args.alias)
    print(json.dumps({"name": done.version.name, "version": done.version.version,
                      "registered": done.registered, "facts": model.facts,
                      "fit_cpu_seconds": model.fit_cpu_seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
