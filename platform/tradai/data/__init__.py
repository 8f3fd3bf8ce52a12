"""Market data: OHLCV candles in ArcticDB, fetched from the exchange through CCXT.

Storage layout (one decision, used everywhere): one ArcticDB library (``ohlcv`` by default,
``TRADAI_ARCTICDB_LIBRARY``) in the ArcticDB bucket, one symbol per exchange / pair / timeframe
named ``binance/BTC_USDT/5m``. A symbol is a frame indexed by the candle's UTC open time
(``date``) with float columns ``open high low close volume``; only closed candles are stored.

- ``timeframes``: timeframe arithmetic (milliseconds, alignment, the last closed candle).
- ``keys``: the symbol naming above.
- ``candles``: CCXT rows <-> frames.
- ``settings`` / ``arctic_uri``: configuration and the ArcticDB URI (S3 emulator, MinIO, AWS,
  LMDB).
- ``store``: the ArcticDB store (idempotent writes, range reads, descriptions).
- ``gaps``: which candles of a range are missing.
- ``freshness``: fresh / stale / missing verdicts on the shared clock.
- ``retry`` / ``exchange``: the CCXT client factory with backoff and clear unavailability errors.
- ``validation``: bad requests (unknown pair or timeframe, inverted, future or oversized range).
- ``backfill``: fetch only the missing candles, page by page, stored in batches by one writer
  thread while the next batch is fetched.
- ``sync``: the incremental top-up that keeps configured and stored symbols fresh.
"""
