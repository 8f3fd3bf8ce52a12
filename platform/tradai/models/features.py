"""Features of a model-driven strategy, computed from OHLCV candles.

One function, ``feature_columns``, computes them everywhere: at training (on a window of
ArcticDB candles), at trading time (on Freqtrade's dataframe, through ``compute_features``) and
in the drift monitor. It is plain Python over sequences, so the monitor runs it as a Lambda
function, whose package has room for neither pandas nor numpy (the python3.11 runtime's 250 MB
with the layer, and numpy's current wheels need a newer glibc than manylinux2014). 8,000
candles take a few tens of milliseconds.

Every feature at a candle uses that candle and earlier ones only (no look-ahead), and is
scale-free (returns, ratios), so one model fits pairs of any price level. The first
``WARMUP_CANDLES`` rows are NaN: the EMA still remembers where the series began.

``FEATURE_SET`` names this definition: a model records it, and loading a model trained on
another definition is refused (a changed feature would silently mean something else).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FEATURE_SET = "ohlcv-v1"
FEATURES: tuple[str, ...] = (
    "ret_1", "ret_6", "ret_24", "volatility_24", "rsi_14", "range_1", "volume_ratio_24",
    "ema_gap_48",
)
# Candles a feature needs before its first meaningful value (the longest window, with margin
# for the EMA to settle): a strategy's startup_candle_count, a drift window's warm-up.
WARMUP_CANDLES = 100
NAN = math.nan
_TINY = 1e-12


def feature_columns(high: Sequence[float], low: Sequence[float], close: Sequence[float],
                    volume: Sequence[float]) -> dict[str, list[float]]:
    """The features of each candle (oldest first), one list per feature; NaN without enough
    history. The candles' open is not used."""
    n = len(close)
    c = [float(x) for x in close]
    v = [float(x) for x in volume]
    log_c = [math.log(x) if x > 0 else NAN for x in c]
    ret_1 = [NAN] + [log_c[i] - log_c[i - 1] for i in range(1, n)]
    out = {
        "ret_1": ret_1,
        "ret_6": _diff(log_c, 6),
        "ret_24": _diff(log_c, 24),
        "volatility_24": _rolling_std(ret_1, 24),
        "rsi_14": _rsi(c, 14),
        "range_1": [(float(high[i]) - float(low[i])) / c[i] if c[i] else NAN for i in range(n)],
        "volume_ratio_24": [math.log((v[i] + _TINY) / (m + _TINY)) if m == m else NAN
                            for i, m in enumerate(_rolling_mean(v, 24))],
        "ema_gap_48": [c[i] / e - 1.0 if e else NAN for i, e in enumerate(_ema(c, 48))],
    }
    for values in out.values():
        values[:WARMUP_CANDLES] = [NAN] * min(n, WARMUP_CANDLES)
    return {name: out[name] for name in FEATURES}


def compute_features(candles: pd.DataFrame) -> pd.DataFrame:
    """``feature_columns`` of a frame with high/low/close/volume columns (a store read or
    Freqtrade's dataframe), as a frame on the same index."""
    import pandas as pd

    cols = feature_columns(candles["high"].tolist(), candles["low"].tolist(),
                           candles["close"].tolist(), candles["volume"].tolist())
    return pd.DataFrame(cols, index=candles.index, dtype="float64")


def labels(candles: pd.DataFrame, horizon: int) -> pd.Series:
    """Training targets: 1 when the close ``horizon`` candles later is above this close, else
    0; NaN for the last ``horizon`` candles (their future is not in the window)."""
    close = candles["close"].astype("float64")
    future = close.shift(-horizon)
    return (future > close).astype("float64").where(future.notna())


def _diff(values: list[float], lag: int) -> list[float]:
    return [NAN] * min(lag, len(values)) + [values[i] - values[i - lag]
                                             for i in range(lag, len(values))]


def _rolling_mean(values: list[float], window: int) -> list[float]:
    out = [NAN] * len(values)
    for i in range(window - 1, len(values)):
        out[i] = math.fsum(values[i - window + 1:i + 1]) / window
    return out


def _rolling_std(values: list[float], window: int) -> list[float]:
    """Sample standard deviation (n - 1) of the last ``window`` values; NaN if one is NaN."""
    out = [NAN] * len(values)
    for i in range(window - 1, len(values)):
        chunk = values[i - window + 1:i + 1]
        mean = math.fsum(chunk) / window
        out[i] = math.sqrt(math.fsum((x - mean) ** 2 for x in chunk) / (window - 1))
    return out


def _ema(values: list[float], span: int) -> list[float]:
    """Exponential moving average, alpha = 2 / (span + 1), seeded with the first value."""
    alpha = 2.0 / (span + 1)
    out: list[float] = []
    for x in values:
        out.append(x if not out else alpha * x + (1 - alpha) * out[-1])
    return out


def _rsi(close: list[float], period: int) -> list[float]:
    """Wilder's RSI (smoothing alpha = 1 / period), 0..100, from the ``period``-th change on."""
    out = [NAN] * len(close)
    gain = loss = 0.0
    alpha = 1.0 / period
    for i in range(1, len(close)):
        delta = close[i] - close[i - 1]
        up, down = max(delta, 0.0), max(-delta, 0.0)
        gain, loss = (up, down) if i == 1 else (alpha * up + (1 - alpha) * gain,
                                                alpha * down + (1 - alpha) * loss)
        if i >= period:
            out[i] = 100.0 if loss == 0 else 100.0 - 100.0 / (1.0 + gain / loss)
    return out
