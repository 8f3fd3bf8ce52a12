"""The data collection service (ECS service ``data-collection``, FastAPI on ``$PORT``, 8002).

Routes (the backend forwards ``/api/v1/data/*`` unchanged, so paths match one to one):

- ``GET  /health``: liveness (no S3 or exchange call).
- ``POST /api/v1/data/ensure``: body ``{pairs, timeframe, start, end?, wait_seconds?}``.
  Validates at once (422 naming the field: unknown pair or timeframe, inverted / future range,
  range over ``TRADAI_DATA_MAX_CANDLES``; 503 naming the exchange when it cannot be reached),
  then backfills only the missing candles as a background job. Answers 202 + the job, or, with
  ``wait_seconds``, 200 + the finished job (status ``succeeded`` / ``failed``) or 503 if it
  failed because the exchange or the store was unreachable. The ``data-collection-proxy``
  Lambda (180 s) should post with ``wait_seconds`` <= 150 and poll ``/jobs/{id}`` on 202.
- ``GET  /api/v1/data/jobs/{id}``: job progress (per series: missing before, written, pages).
  Jobs live in memory; after a restart, re-posting the request resumes from what is stored.
- ``GET  /api/v1/data/freshness?pairs=&timeframes=``: newest candle, age on the shared clock,
  verdict fresh / stale / missing, gaps.
- ``GET  /api/v1/data/metadata``: stored series and their ranges.
- ``GET|POST /api/v1/data/sync``: the incremental sync. It runs in the background every
  ``TRADAI_SYNC_INTERVAL_SECONDS`` (simulated seconds, default 60) for
  ``TRADAI_SYNC_PAIRS`` x ``TRADAI_SYNC_TIMEFRAMES`` plus every stored series
  (``TRADAI_SYNC_STORED``); ``TRADAI_SYNC_ENABLED=false`` turns the loop off and POST runs one
  tick on demand.

One writer per symbol: run one task (desired count 1) or partition pairs between tasks.
Everything else is configuration (see ``tradai.data.settings`` and ``settings`` here).
"""
