"""Model-driven strategies: features from OHLCV candles, a trained classifier, the reference
distribution of its features, and model drift (PSI) against recent candles.

The domain layer the model lifecycle builds on: ``features`` (one function at training and at
trading time), ``training`` (fit on a window of ArcticDB candles), ``reference`` (what the
features looked like in that window), ``artifact`` (the model folder registered with a version),
``drift`` (PSI) and ``monitor`` (the drift-monitor's state, metric and alert).
"""
