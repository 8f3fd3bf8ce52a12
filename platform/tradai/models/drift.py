"""Model drift: the Population Stability Index (PSI) of each feature between a model's
reference distribution (its training window) and recent candles.

    PSI = sum over bins i of (a_i - e_i) * ln(a_i / e_i)

with e_i the reference (expected) share and a_i the recent (actual) share of bin i. The usual
reading: below 0.1 no significant change, 0.1 to 0.25 a moderate shift, above 0.25 a
significant shift that calls for attention (retraining). Formula and rule of thumb as the
scorecard package documents them
(https://search.r-project.org/CRAN/refmans/scorecard/html/perf_psi.html) and Alibaba PAI's
PSI component (https://www.alibabacloud.com/help/doc-detail/283802.html); their statistical
properties: Yurdakul, "Statistical Properties of Population Stability Index", 2018
(https://scholarworks.wmich.edu/dissertations/3208/).

An empty bin would make the logarithm infinite: both shares are floored at ``EPSILON`` first
(a common convention), so a bin the recent candles never reach adds a large but finite term.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tradai.models.reference import Reference, bin_shares

EPSILON = 1e-4
MODERATE = 0.1  # below: no significant change
SIGNIFICANT = 0.25  # above: significant shift (the monitor's default threshold)
OK, DRIFTING = "OK", "DRIFTING"


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """PSI between two binned distributions (shares of the same bins, each summing to 1)."""
    if len(expected) != len(actual):
        raise ValueError(f"bins differ: {len(expected)} expected, {len(actual)} actual")
    if not expected:
        raise ValueError("PSI needs at least one bin")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(float(e), epsilon), max(float(a), epsilon)
        total += (a - e) * math.log(a / e)
    return total


@dataclass(frozen=True)
class DriftResult:
    psi: dict[str, float]  # per feature
    counts: dict[str, int]  # recent values counted per feature
    threshold: float

    @property
    def max_feature(self) -> str:
        return max(self.psi, key=lambda k: self.psi[k])

    @property
    def max_psi(self) -> float:
        return self.psi[self.max_feature]

    @property
    def status(self) -> str:
        return DRIFTING if self.max_psi >= self.threshold else OK


class NotEnoughData(ValueError):
    """Too few recent values to compare a feature's distribution with its reference."""


def feature_drift(reference: Reference, recent: Mapping[str, Sequence[float]],
                  threshold: float = SIGNIFICANT, min_count: int = 100) -> DriftResult:
    """PSI of each reference feature over ``recent`` (feature -> values of recent candles,
    ``tradai.models.features.feature_columns``; a DataFrame of them works too); NaN values are
    left out."""
    missing = [f for f in reference.features if f not in recent]
    if missing:
        raise ValueError(f"recent features lack {', '.join(missing)}")
    values: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, ref in reference.features.items():
        shares, count = bin_shares(list(recent[name]), ref.edges)
        if count < min_count:
            raise NotEnoughData(f"{name}: {count} recent values, at least {min_count} needed")
        values[name] = round(psi(ref.shares, shares), 6)
        counts[name] = count
    return DriftResult(values, counts, threshold)


def summary(result: DriftResult) -> Mapping[str, object]:
    return {"status": result.status, "max_psi": result.max_psi,
            "max_feature": result.max_feature, "psi": dict(result.psi),
            "threshold": result.threshold}
