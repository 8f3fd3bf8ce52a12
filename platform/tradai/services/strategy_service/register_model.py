"""The strategy-service-task's ``register-model`` mode (Retraining workflow): the challenger
the strategy container trained (its model folder in the results bucket,
``tradai.retraining.handoff``) registered as a new version of the strategy, then validated
with the short backtest of ``validate``.

The version carries the champion's config and source (the same strategy class, a new model),
the model folder, its training window and reference distribution as tags
(``tradai.models.registration``), and ``retraining_run`` = the run id, by which the
comparison finds it. No alias moves here: promotion is the workflow's decision. The same
model registered again (training is deterministic) is the existing version, tagged too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tradai.services.strategy_service.version_tasks import TaskDependencyError, TaskInputError

RETRAINING_RUN_TAG = "retraining_run"  # tradai.retraining.steps.RETRAINING_RUN_TAG


def register_challenger(registry: Any, s3: Any, results_bucket: str | None, strategy: str,
                        champion_ref: str, run_id: str | None) -> dict[str, Any]:
    from tradai.models import artifact
    from tradai.models.registration import register_model_version
    from tradai.registry.models import RegistryUnavailable, StrategyNotFound
    from tradai.retraining.handoff import download
    from tradai.strategy_container.errors import DependencyFailed
    from tradai.strategy_container.strategy_source import strategy_dir

    if not run_id:
        raise TaskInputError("no run: give TRADAI_JOB_ID (the retraining run id)")
    if not results_bucket:
        raise TaskDependencyError("TRADAI_BUCKET_RESULTS not set: the trained model waits there")
    try:
        champion = registry.get_model_version(strategy, champion_ref)
        config = registry.load_config(champion)
    except StrategyNotFound as exc:
        raise TaskInputError(str(exc)) from exc
    except RegistryUnavailable as exc:
        raise TaskDependencyError(str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="tradai-register-") as tmp:
        try:
            folder = download(s3, results_bucket, run_id, Path(tmp) / "trained")
        except FileNotFoundError as exc:
            raise TaskInputError(str(exc)) from exc
        model = artifact.load(folder)
        try:
            code_dir = strategy_dir(registry.client, champion, Path(tmp) / "champion")
        except DependencyFailed as exc:
            raise TaskDependencyError(exc.message) from exc
        sources = sorted(code_dir.glob("*.py"))
        source = next((p for p in sources if champion.strategy_class in p.read_text()), None)
        if source is None:
            raise TaskInputError(f"{strategy} v{champion.version}: its source defining "
                                 f"{champion.strategy_class} was not found")
        done = register_model_version(
            registry, model, name=strategy, strategy_class=champion.strategy_class,
            config=config, source=source.read_text(), source_filename=source.name,
            extra_tags={RETRAINING_RUN_TAG: run_id})
    if not done.registered:  # the champion's own model or an earlier run's: tag it for this run
        registry.set_version_tags(strategy, done.version.version, {RETRAINING_RUN_TAG: run_id})
    return {"strategy": strategy, "version": done.version.version,
            "registered": done.registered, "run_id": run_id, "facts": model.facts}
