"""Trend following: enter when the fast EMA crosses above the slow EMA, leave on the reverse.

Plain pandas indicators, so it runs anywhere Freqtrade does.
"""

from __future__ import annotations

from freqtrade.strategy import IStrategy
from pandas import DataFrame


def _crossed_above(a: DataFrame, b: DataFrame) -> DataFrame:
    return (a > b) & (a.shift(1) <= b.shift(1))


class EmaCrossover(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "5m"
    can_short = False
    minimal_roi = {"0": 0.04, "60": 0.02, "180": 0.0}
    stoploss = -0.05
    trailing_stop = False
    process_only_new_candles = True
    startup_candle_count = 60

    fast_period = 12
    slow_period = 48

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema_fast"] = dataframe["close"].ewm(span=self.fast_period, adjust=False).mean()
        dataframe["ema_slow"] = dataframe["close"].ewm(span=self.slow_period, adjust=False).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        cross = _crossed_above(dataframe["ema_fast"], dataframe["ema_slow"])
        dataframe.loc[cross & (dataframe["volume"] > 0), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        cross = _crossed_above(dataframe["ema_slow"], dataframe["ema_fast"])
        dataframe.loc[cross & (dataframe["volume"] > 0), "exit_long"] = 1
        return dataframe
