"""The model folder registered with a model-driven strategy version, and read back.

    model/model.joblib     the fitted classifier (joblib, scikit-learn's documented way)
    model/model.json       feature set, features, horizon, random state, parameters,
                           training window, facts of the fit
    model/reference.json   the reference distribution of the features (what drift is
                           measured against)

A joblib file is a pickle: it is only ever loaded from the platform's own registry (the
version's run, written by ``tradai.models.registration``), never from user input. scikit-learn
documents that a model loads reliably with the version that saved it
(https://scikit-learn.org/stable/model_persistence.html): ``model.json`` records it and a
mismatch is refused with both versions named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tradai.models.features import FEATURE_SET
from tradai.models.reference import Reference
from tradai.models.training import TrainedModel, TrainingWindow

MODEL_DIR = "model"
MODEL_FILE, META_FILE, REFERENCE_FILE = "model.joblib", "model.json", "reference.json"


class ModelUnusable(RuntimeError):
    """The model folder is missing, incomplete, or was made by other code than this one."""


def save(model: TrainedModel, folder: Path) -> Path:
    import joblib
    import sklearn

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.classifier, folder / MODEL_FILE)
    meta = {**model.meta(), "sklearn": sklearn.__version__}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    (folder / REFERENCE_FILE).write_text(json.dumps(model.reference.to_json(), sort_keys=True))
    return folder


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    if not path.is_file():
        raise ModelUnusable(f"no {META_FILE} in {folder}: the version has no model artifact")
    return dict(json.loads(path.read_text()))


def load(folder: Path) -> TrainedModel:
    import joblib
    import sklearn

    meta = read_meta(folder)
    if meta.get("feature_set") != FEATURE_SET:
        raise ModelUnusable(f"the model was trained on feature set {meta.get('feature_set')!r}"
                            f"; this code computes {FEATURE_SET!r}")
    if meta.get("sklearn") != sklearn.__version__:
        raise ModelUnusable(f"the model was saved by scikit-learn {meta.get('sklearn')}; this "
                            f"image has {sklearn.__version__}: retrain it")
    for name in (MODEL_FILE, REFERENCE_FILE):
        if not (folder / name).is_file():
            raise ModelUnusable(f"no {name} in {folder}")
    reference = Reference.from_json(json.loads((folder / REFERENCE_FILE).read_text()))
    return TrainedModel(classifier=joblib.load(folder / MODEL_FILE),
                        window=TrainingWindow.from_json(meta["window"]), reference=reference,
                        horizon=int(meta["horizon"]), random_state=int(meta["random_state"]),
                        params=dict(meta["params"]), facts=dict(meta.get("facts", {})),
                        feature_set=str(meta["feature_set"]),
                        features=tuple(meta["features"]))
