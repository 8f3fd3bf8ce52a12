"""The container's ``train`` mode (Retraining workflow): train a model-driven strategy's
challenger on a window of ArcticDB candles (``tradai.models.training``, deterministic) and hand
its model folder (model, parameters, training window, reference distribution) to the
registration through the results bucket (``tradai.retraining.handoff``).

Inputs from the RunTask override: ``TRADAI_JOB_ID`` (the run id), ``TRADAI_STRATEGY``,
``TRADAI_TRAIN_EXCHANGE``, ``TRADAI_TRAIN_PAIR``, ``TRADAI_TRAIN_TIMEFRAME``,
``TRADAI_TRAIN_START_MS``, ``TRADAI_TRAIN_END_MS``. Exit 0 done, 1 a dependency or the
training failed (too few candles), 2 bad input; the reason on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("tradai.strategy_container.train")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        run_id = env["TRADAI_JOB_ID"]
        pair, timeframe = env["TRADAI_TRAIN_PAIR"], env["TRADAI_TRAIN_TIMEFRAME"]
        start_ms, end_ms = int(env["TRADAI_TRAIN_START_MS"]), int(env["TRADAI_TRAIN_END_MS"])
        bucket = env["TRADAI_BUCKET_RESULTS"]
    except (KeyError, ValueError) as exc:
        log.error("bad input (exit %d): %s missing or not a number", EXIT_BAD_INPUT, exc)
        return EXIT_BAD_INPUT
    if start_ms >= end_ms:
        log.error("bad input (exit %d): the window's start is not before its end", EXIT_BAD_INPUT)
        return EXIT_BAD_INPUT
    from tradai.data.store import OhlcvStore
    from tradai.models import artifact
    from tradai.models.training import NotEnoughCandles, TrainingWindow, train_from_store
    from tradai.retraining.handoff import upload
    from tradai.settings import aws_client

    window = TrainingWindow(pair, timeframe, start_ms, end_ms,
                            exchange=env.get("TRADAI_TRAIN_EXCHANGE") or "binance")
    try:
        model = train_from_store(OhlcvStore.from_settings(), window)
    except NotEnoughCandles as exc:
        log.error("training failed (exit %d): %s", EXIT_FAILED, exc)
        return EXIT_FAILED
    with tempfile.TemporaryDirectory(prefix="tradai-train-") as tmp:
        folder = artifact.save(model, Path(tmp) / artifact.MODEL_DIR)
        keys = upload(aws_client("s3"), bucket, run_id, folder)
    print(json.dumps({"run_id": run_id, "strategy": env.get("TRADAI_STRATEGY"),
                      "window": window.to_json(), "files": keys, "facts": model.facts,
                      "fit_cpu_seconds": model.fit_cpu_seconds}, default=str), flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
