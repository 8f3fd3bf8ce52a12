"""Model-driven: enter when the trained model's probability that the price is higher an hour
ahead is high, leave when it is low.

The model is the version's own (``tradai.models``): registered with it in MLflow under
``strategy/model/`` and placed beside this file by the strategy container (``model/``), so a
version always trades with the model it was registered with. The features are computed by the
same function the model was trained with (``tradai.models.features.compute_features``).
The config's ``tradai_model_dir`` points elsewhere (research on a model not yet registered).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freqtrade.strategy import IStrategy
from pandas import DataFrame

from tradai.models.features import WARMUP_CANDLES


class ModelProbability(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "5m"
    can_short = False
    minimal_roi = {"0": 0.03, "120": 0.01, "360": 0.0}
    stoploss = -0.04
    trailing_stop = False
    process_only_new_candles = True
    startup_candle_count = WARMUP_CANDLES

    entry_probability = 0.62
    exit_probability = 0.45

    model: Any = None

    def model_dir(self) -> Path:
        configured = self.config.get("tradai_model_dir")
        return Path(configured) if configured else Path(__file__).parent / "model"

    def bot_start(self, **kwargs: Any) -> None:
        # Loaded once, at the bot's start (not at import: Freqtrade's resolver imports every
        # strategy file of the folder it searches, including this one for other strategies).
        from tradai.models.artifact import load

        self.model = load(self.model_dir())

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["probability"] = self.model.probabilities(dataframe)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[(dataframe["probability"] > self.entry_probability)
                      & (dataframe["volume"] > 0), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[(dataframe["probability"] < self.exit_probability)
                      & (dataframe["volume"] > 0), "exit_long"] = 1
        return dataframe
