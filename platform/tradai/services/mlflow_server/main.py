"""Entrypoint of the MLflow task: settings -> ``mlflow server`` under a supervisor."""

from __future__ import annotations

import logging
import os
import sys

from tradai.services.mlflow_server.command import backend_store_uri, server_argv, server_env
from tradai.services.mlflow_server.settings import MlflowServerSettings
from tradai.services.mlflow_server.supervisor import run_supervised

log = logging.getLogger("tradai.mlflow_server")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = MlflowServerSettings()
    try:
        store = backend_store_uri(settings)
    except (ValueError, KeyError) as exc:
        log.error("cannot build the backend store URI: %s", exc)
        return 2
    argv = server_argv(settings, store)
    log.info("starting mlflow server on %s:%s (store %s, artifacts %s)", settings.host,
             settings.port, store.split("@")[-1], settings.artifacts_bucket or "local")
    return run_supervised(argv, server_env(settings, os.environ))


if __name__ == "__main__":
    sys.exit(main())
