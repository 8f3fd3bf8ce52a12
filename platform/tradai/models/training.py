"""Train a model-driven strategy's classifier on a window of candles.

The model predicts whether the close ``horizon`` candles ahead is above the current close,
from ``tradai.models.features``. scikit-learn's HistGradientBoostingClassifier is the
LightGBM-like choice already in the image (histogram-binned gradient boosting, the algorithm
LightGBM popularised). It is fitted with a fixed ``random_state`` and no early stopping (no
random validation split), so the same candles give the same model and the same predictions.

The trained model carries what the rest of the lifecycle needs: its training window (exchange,
pair, timeframe, start, end), the reference distribution of its features over that window
(``tradai.models.reference``), and a few facts of the fit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tradai.data.keys import SeriesKey
from tradai.data.timeframes import timeframe_ms
from tradai.models.features import FEATURE_SET, FEATURES, WARMUP_CANDLES, compute_features, labels
from tradai.models.reference import DEFAULT_BINS, Reference, build_reference

DEFAULT_HORIZON = 12  # candles ahead: one hour of 5m candles
RANDOM_STATE = 42
# Small and shallow: a few thousand rows of noisy returns; more capacity only memorises.
DEFAULT_PARAMS: dict[str, Any] = {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 15,
                                  "min_samples_leaf": 40, "l2_regularization": 1.0}
MIN_ROWS = 500


class CandleSource(Protocol):
    def read(self, key: SeriesKey, start_ms: int | None = None,
             end_ms: int | None = None) -> pd.DataFrame: ...


class NotEnoughCandles(ValueError):
    """The training window holds too few candles to fit a model."""


@dataclass(frozen=True)
class TrainingWindow:
    pair: str
    timeframe: str
    start_ms: int  # open time of the first candle trained on
    end_ms: int  # open time of the last candle whose features are used
    exchange: str = "binance"

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(self.exchange, self.pair, self.timeframe)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingWindow:
        return cls(pair=str(data["pair"]), timeframe=str(data["timeframe"]),
                   start_ms=int(data["start_ms"]), end_ms=int(data["end_ms"]),
                   exchange=str(data.get("exchange", "binance")))


@dataclass
class TrainedModel:
    classifier: Any
    window: TrainingWindow
    reference: Reference
    horizon: int = DEFAULT_HORIZON
    random_state: int = RANDOM_STATE
    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    facts: dict[str, Any] = field(default_factory=dict)  # rows, positive rate, accuracy
    feature_set: str = FEATURE_SET
    features: tuple[str, ...] = FEATURES
    # Measured, so not in ``meta()``: the same candles must give the same model folder.
    fit_cpu_seconds: float | None = None

    def meta(self) -> dict[str, Any]:
        """What ``model.json`` holds beside the fitted classifier."""
        return {"feature_set": self.feature_set, "features": list(self.features),
                "horizon": self.horizon, "random_state": self.random_state,
                "params": dict(self.params), "window": self.window.to_json(),
                "facts": dict(self.facts)}

    def probabilities(self, candles: pd.DataFrame) -> pd.Series:
        """P(close ``horizon`` candles ahead > close) per candle; NaN where a feature is."""
        feats = compute_features(candles)
        return self.probabilities_of(feats)

    def probabilities_of(self, feats: pd.DataFrame) -> pd.Series:
        feats = feats[list(self.features)]
        complete = feats.notna().all(axis=1).to_numpy()
        out = np.full(len(feats), np.nan)
        if complete.any():
            with one_thread():
                out[complete] = self.classifier.predict_proba(feats.to_numpy()[complete])[:, 1]
        return pd.Series(out, index=feats.index, name="probability")


def train(candles: pd.DataFrame, window: TrainingWindow, *, horizon: int = DEFAULT_HORIZON,
          random_state: int = RANDOM_STATE, params: Mapping[str, Any] | None = None,
          bins: int = DEFAULT_BINS) -> TrainedModel:
    """Fit on the candles of ``window`` (``candles`` may begin earlier: the features' warm-up).
    Rows are those with open time in [start, end], complete features and a known label."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    feats = compute_features(candles)
    y = labels(candles, horizon)
    times = _open_ms(candles.index)
    inside = (times >= window.start_ms) & (times <= window.end_ms)
    usable = inside & feats.notna().all(axis=1).to_numpy() & y.notna().to_numpy()
    rows = int(usable.sum())
    if rows < MIN_ROWS:
        raise NotEnoughCandles(
            f"{window.pair} {window.timeframe} has {rows} usable candles in the training "
            f"window, at least {MIN_ROWS} needed (the store holds {int(inside.sum())} there)")
    x, target = feats[usable], y[usable].astype(int)
    chosen = {**DEFAULT_PARAMS, **(params or {})}
    clf = HistGradientBoostingClassifier(**chosen, early_stopping=False,
                                         random_state=random_state)
    cpu = time.process_time()
    with one_thread():
        clf.fit(x.to_numpy(), target.to_numpy())
    fit_cpu = time.process_time() - cpu
    # The reference is what the features looked like where the model learned: the same rows.
    reference = build_reference(x, bins)
    facts = {"rows": rows, "positive_rate": round(float(target.mean()), 6),
             "train_accuracy": round(float(clf.score(x.to_numpy(), target.to_numpy())), 6)}
    return TrainedModel(clf, window, reference, horizon, random_state, chosen, facts,
                        fit_cpu_seconds=round(fit_cpu, 3))


def train_from_store(store: CandleSource, window: TrainingWindow, **kwargs: Any) -> TrainedModel:
    """Train on the candles the store (ArcticDB) holds for ``window``, with the features'
    warm-up read before its start."""
    step = timeframe_ms(window.timeframe)
    candles = store.read(window.key, window.start_ms - WARMUP_CANDLES * step, window.end_ms)
    if candles.empty:
        raise NotEnoughCandles(f"no candles of {window.pair} {window.timeframe} in the store "
                               f"for the training window")
    return train(candles, window, **kwargs)


def one_thread() -> Any:
    """OpenMP on one thread: the fit is small (a fraction of a CPU second), and more threads on
    a shared machine spin for longer than they compute; one thread also fixes the order of
    floating-point sums."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _open_ms(index: pd.Index) -> np.ndarray:
    """Open times in epoch ms of a DatetimeIndex (any resolution) or of epoch-ms integers."""
    if isinstance(index, pd.DatetimeIndex):
        ts = index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")
        return ts.as_unit("ms").asi8
    return np.asarray(index, dtype=np.int64)
