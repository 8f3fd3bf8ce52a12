"""The strategy's code for a version: the source registered with it in MLflow (the
registration run's ``strategy/`` artifacts), else the strategies packaged in the image.

A model-driven version also carries its trained model (``strategy/model/``,
``tradai.models.artifact``): it is put beside the code, where the strategy loads it from."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from tradai.models.artifact import MODEL_DIR
from tradai.registry.adapter import ARTIFACT_DIR
from tradai.registry.models import StrategyVersion
from tradai.strategies import STRATEGIES_DIR
from tradai.strategy_container.errors import DependencyFailed

log = logging.getLogger(__name__)


def strategy_dir(client: Any, version: StrategyVersion, dest: Path) -> Path:
    """A folder holding the version's strategy class, for Freqtrade's ``strategy_path``."""
    if not version.run_id:
        return STRATEGIES_DIR
    try:
        downloaded = Path(client.download_artifacts(version.run_id, ARTIFACT_DIR, str(dest)))
    except Exception as exc:  # MLflow wraps S3 and HTTP failures in many types
        raise DependencyFailed(f"could not fetch the source of {version.name} "
                               f"v{version.version} from MLflow: {exc}") from exc
    sources = sorted(downloaded.rglob("*.py"))
    if not sources:
        log.info("%s v%d has no registered source; using the packaged strategies",
                 version.name, version.version)
        return STRATEGIES_DIR
    folder = dest / "code"
    folder.mkdir(parents=True, exist_ok=True)
    for src in sources:  # only code: a config.json beside it would not be a strategy
        shutil.copy2(src, folder / src.name)
    model = downloaded / MODEL_DIR
    if model.is_dir():
        shutil.copytree(model, folder / MODEL_DIR, dirs_exist_ok=True)
    return folder
