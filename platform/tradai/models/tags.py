"""Tags of a model-driven strategy version (beside the registry's own, ``tradai.registry.tags``):
where its model and reference distribution are in the version's run, its feature set and its
training window. Readers (the drift monitor, later the retraining workflow) need no more than
the version to find them."""

from __future__ import annotations

from tradai.registry.models import StrategyVersion

MODEL_ARTIFACT = "model_artifact"  # artifact path in the version's run: the model folder
MODEL_REFERENCE = "model_reference"  # artifact path of reference.json
MODEL_FEATURE_SET = "model_feature_set"
TRAINING_EXCHANGE = "training_exchange"
TRAINING_PAIR = "training_pair"
TRAINING_TIMEFRAME = "training_timeframe"
TRAINING_START = "training_start"  # ISO 8601 UTC, open time of the first candle
TRAINING_END = "training_end"  # ISO 8601 UTC, open time of the last candle


def is_model_driven(version: StrategyVersion) -> bool:
    return bool(version.tags.get(MODEL_REFERENCE))
