"""The reference distribution of a model's features: what they looked like in its training
window, stored with the model so drift can later be measured against it.

Per feature: bin edges at the training window's quantiles (deciles by default, so each bin
holds about a tenth of the training rows) and the share of training rows per bin. The outer
edges are open (-inf, +inf), so recent values outside the training range still land in a bin.
Repeated quantiles (a feature with many equal values) are merged, so a bin is never empty by
construction.

Binning (``bin_shares``) is plain Python: the drift monitor bins recent values as a Lambda
function without numpy. Building a reference (training only) uses numpy's quantiles.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BINS = 10


@dataclass(frozen=True)
class FeatureReference:
    # Inner edges only (ascending); the bins are (-inf, e0], (e0, e1], ..., (e_last, +inf).
    edges: tuple[float, ...]
    shares: tuple[float, ...]  # len(edges) + 1, summing to 1
    count: int  # rows of the training window it was computed from

    def to_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "shares": list(self.shares), "count": self.count}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureReference:
        ref = cls(tuple(float(e) for e in data["edges"]),
                  tuple(float(s) for s in data["shares"]), int(data["count"]))
        if len(ref.shares) != len(ref.edges) + 1:
            raise ValueError("a reference needs one more share than inner edges")
        if list(ref.edges) != sorted(set(ref.edges)):
            raise ValueError("reference edges must be strictly ascending")
        return ref


@dataclass(frozen=True)
class Reference:
    features: dict[str, FeatureReference]

    def to_json(self) -> dict[str, Any]:
        return {"features": {k: v.to_json() for k, v in self.features.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reference:
        feats = data.get("features")
        if not isinstance(feats, Mapping) or not feats:
            raise ValueError("a reference names at least one feature")
        return cls({str(k): FeatureReference.from_json(v) for k, v in feats.items()})


def bin_shares(values: Iterable[float | None],
               edges: Sequence[float]) -> tuple[tuple[float, ...], int]:
    """The share of finite ``values`` in each bin of ``edges`` (right-closed: a value equal to
    an edge belongs to the bin below it) and how many values were counted."""
    counts = [0] * (len(edges) + 1)
    total = 0
    for v in values:
        if v is None or not math.isfinite(v):
            continue
        counts[bisect.bisect_left(edges, v)] += 1
        total += 1
    if total == 0:
        return tuple(0.0 for _ in counts), 0
    return tuple(c / total for c in counts), total


def feature_reference(values: Iterable[float], bins: int = DEFAULT_BINS) -> FeatureReference:
    import numpy as np

    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size < bins:
        raise ValueError(f"a reference needs at least {bins} finite values, got {arr.size}")
    qs = np.quantile(arr, np.linspace(0, 1, bins + 1)[1:-1])
    edges = tuple(sorted({float(q) for q in qs if math.isfinite(q)}))
    shares, count = bin_shares(arr.tolist(), edges)
    return FeatureReference(edges, shares, count)


def build_reference(features: pd.DataFrame, bins: int = DEFAULT_BINS) -> Reference:
    """The reference of every column of ``features`` (rows with NaN are left out per feature)."""
    return Reference({str(c): feature_reference(features[c].tolist(), bins)
                      for c in features.columns})
