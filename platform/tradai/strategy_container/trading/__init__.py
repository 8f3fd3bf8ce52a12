"""Dry-run and live trading: the strategy container as a long-running session (pattern 4).

``session`` runs the loop: Freqtrade's bot on the exchange, a heartbeat every 30 simulated
seconds, the alias it follows checked every check period (hot swap). ``warmup`` fills the
bot's candle cache from ArcticDB, ``heartbeat`` writes DynamoDB and CloudWatch, ``trade_state``
keeps Freqtrade's trade database in S3 so a replacement task resumes from it.
"""
