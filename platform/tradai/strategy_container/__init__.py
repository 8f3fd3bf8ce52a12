"""The strategy container (one image for every mode, section 2 of the architecture document).

``python -m tradai.strategy_container`` reads its job from the environment (``TRADAI_JOB_ID``,
``TRADAI_MODE``) and the job's item in the workflow-state table, then:

- ``job``: reads the job item and keeps its ``progress`` / ``result`` / ``error`` current;
- ``config``: builds the runnable Freqtrade config (ConfigMergeService + the job's overrides);
- ``data``: copies the OHLCV range from ArcticDB into Freqtrade's feather files;
- ``runner``: runs Freqtrade in-process (backtesting, or hyperopt with bounded epochs);
- ``publish``: result files to the results bucket, an MLflow run, headline metrics on the item;
- ``app``: the steps in order, and the exit code (0 success, 1 run failed, 2 bad job/config).

Modes ``dry-run`` and ``live`` belong to a later issue: they exit 2 with a clear message.
"""
