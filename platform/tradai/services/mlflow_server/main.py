"""Entrypoint of the MLflow task: settings -> ``mlflow server`` under a supervisor."""

from __future__ import annotations

import logging
import os
import sys

from tradai.registry.credentials import (
    AuthSecretUnavailable,
    MlflowAuthSettings,
    resolve_basic_auth,
)
from tradai.services.mlflow_server import auth
from tradai.services.mlflow_server.command import backend_store_uri, server_argv, server_env
from tradai.services.mlflow_server.settings import MlflowServerSettings
from tradai.services.mlflow_server.supervisor import run_supervised

log = logging.getLogger("tradai.mlflow_server")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = MlflowServerSettings()
    auth_settings = MlflowAuthSettings()
    try:
        store = backend_store_uri(settings)
        creds = resolve_basic_auth(auth_settings)
    except (ValueError, KeyError, AuthSecretUnavailable) as exc:
        log.error("cannot configure the MLflow server: %s", exc)
        return 2
    env = server_env(settings, os.environ, store)
    if creds is not None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env = auth.configure(creds, store, settings.data_dir, env)
    argv = server_argv(settings, store, auth.APP_NAME if creds else None)
    log.info("starting mlflow server on %s:%s (store %s, artifacts %s, auth %s)", settings.host,
             settings.port, store.split("@")[-1], settings.artifacts_bucket or "local",
             f"basic from secret {auth_settings.secret_id()}" if creds else "none")
    return run_supervised(argv, env)


if __name__ == "__main__":
    sys.exit(main())
