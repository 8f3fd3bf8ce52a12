"""Mean reversion: buy an oversold close below the lower Bollinger band, sell when the price
is back above the middle band or RSI is overbought. TA-Lib indicators (Freqtrade ships it)."""

from __future__ import annotations

import talib.abstract as ta
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class RsiBollingerReversion(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "5m"
    can_short = False
    minimal_roi = {"0": 0.03, "30": 0.015, "120": 0.0}
    stoploss = -0.04
    process_only_new_candles = True
    startup_candle_count = 30

    rsi_period = 14
    rsi_entry = 30
    rsi_exit = 70
    bb_period = 20
    bb_stddev = 2.0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=self.rsi_period)
        bands = ta.BBANDS(dataframe, timeperiod=self.bb_period, nbdevup=self.bb_stddev,
                          nbdevdn=self.bb_stddev, matype=0)
        dataframe["bb_lower"] = bands["lowerband"]
        dataframe["bb_middle"] = bands["middleband"]
        dataframe["bb_upper"] = bands["upperband"]
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        oversold = (dataframe["rsi"] < self.rsi_entry) & (
            dataframe["close"] < dataframe["bb_lower"])
        dataframe.loc[oversold & (dataframe["volume"] > 0), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        recovered = (dataframe["close"] > dataframe["bb_middle"]) | (
            dataframe["rsi"] > self.rsi_exit)
        dataframe.loc[recovered & (dataframe["volume"] > 0), "exit_long"] = 1
        return dataframe
