"""Features of a model-driven strategy, computed from OHLCV candles.

One function, ``compute_features``, serves training (on a window of ArcticDB candles) and
trading (on Freqtrade's dataframe), so the model sees at trading time exactly what it was
trained on. Every feature at a candle uses that candle and earlier ones only (no look-ahead),
and is scale-free (returns, ratios), so one model fits pairs of any price level.

``FEATURE_SET`` names this definition: a model records it, and loading a model trained on
another definition is refused (a changed feature would silently mean something else).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE_SET = "ohlcv-v1"
FEATURES: tuple[str, ...] = (
    "ret_1", "ret_6", "ret_24", "volatility_24", "rsi_14", "range_1", "volume_ratio_24",
    "ema_gap_48",
)
# Candles a feature needs before its first meaningful value (the longest window, with margin
# for the EMA to settle): a strategy's startup_candle_count, a drift window's warm-up.
WARMUP_CANDLES = 100


def compute_features(candles: pd.DataFrame) -> pd.DataFrame:
    """The features of each candle of ``candles`` (columns open/high/low/close/volume, oldest
    first); rows without enough history hold NaN."""
    close = candles["close"].astype(np.float64)
    high = candles["high"].astype(np.float64)
    low = candles["low"].astype(np.float64)
    volume = candles["volume"].astype(np.float64)
    log_close = np.log(close)
    ret_1 = log_close.diff()
    out = pd.DataFrame(index=candles.index)
    out["ret_1"] = ret_1
    out["ret_6"] = log_close.diff(6)
    out["ret_24"] = log_close.diff(24)
    out["volatility_24"] = ret_1.rolling(24).std()
    out["rsi_14"] = _rsi(close, 14)
    out["range_1"] = (high - low) / close
    mean_volume = volume.rolling(24).mean()
    out["volume_ratio_24"] = np.log((volume + 1e-12) / (mean_volume + 1e-12))
    out["ema_gap_48"] = close / close.ewm(span=48, adjust=False).mean() - 1.0
    out.iloc[:WARMUP_CANDLES] = np.nan  # the EMA still remembers where the frame began
    return out[list(FEATURES)]


def _rsi(close: pd.Series, period: int) -> pd.Series:
    """Wilder's RSI (exponential smoothing with alpha = 1 / period), 0..100."""
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / period, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / period, adjust=False).mean()
    rs = gain / loss.replace(0.0, np.nan)
    return (100 - 100 / (1 + rs)).fillna(100.0).where(delta.notna().cumsum() >= period)


def labels(candles: pd.DataFrame, horizon: int) -> pd.Series:
    """1 when the close ``horizon`` candles later is above this close, else 0; NaN for the
    last ``horizon`` candles (their future is not in the window)."""
    close = candles["close"].astype(np.float64)
    future = close.shift(-horizon)
    return (future > close).astype(np.float64).where(future.notna())
