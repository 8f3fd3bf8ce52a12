"""Entrypoint of the MLflow task: settings -> MLflow served from this process (serve.py; with
more than one worker ``mlflow server`` under a supervisor); once it answers, the users of the
``mlflow-users`` secret are created or updated (see users.py)."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from tradai.registry.credentials import (
    AuthSecretUnavailable,
    BasicAuth,
    MlflowAuthSettings,
    read_basic_auth,
    read_users,
    resolve_basic_auth,
)
from tradai.services.mlflow_server import auth, serve, users
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
    log.info("starting MLflow on %s:%s (store %s, artifacts %s, auth %s)", settings.host,
             settings.port, store.split("@")[-1], settings.artifacts_bucket or "local",
             f"basic from secret {auth_settings.secret_id()}" if creds else "none")
    sync = None
    if creds is not None:
        base_url = f"http://{_connect_host(settings.host)}:{settings.port}" + (
            settings.static_prefix or "").rstrip("/")
        sync = functools.partial(_start_users_sync, base_url, creds, auth_settings)
    if serve.in_process(settings):
        if sync is not None:
            sync(lambda: True)  # the server is this process: it is alive while this runs
        return serve.serve(settings, store, env, with_auth=creds is not None)
    argv = server_argv(settings, store, auth.APP_NAME if creds else None)
    return run_supervised(argv, env, sync)


def _start_users_sync(base_url: str, admin: BasicAuth, auth_settings: MlflowAuthSettings,
                      server_alive: Callable[[], bool]) -> threading.Thread:
    """Read the managed users' secrets and sync them, beside the server: those reads are no
    part of its start."""
    def run() -> None:
        if managed := _managed_users(auth_settings):
            users.sync_when_up(base_url, admin, managed, server_alive)

    thread = threading.Thread(target=run, name="mlflow-users-sync", daemon=True)
    thread.start()
    return thread


def _managed_users(settings: MlflowAuthSettings) -> list[BasicAuth]:
    """The users to keep in step: those of ``mlflow-users`` and the strategy tasks' login
    (``mlflow-runner``); without them (a warning) the server still starts."""
    return [*_logins("MLflow users", settings.users_secret_id(), read_users),
            *_logins("strategy tasks' MLflow login", settings.runner_secret_id(),
                     lambda secret_id: [found] if (found := read_basic_auth(secret_id))
                     else None)]


def _logins(what: str, secret_id: str,
            read: Callable[[str], list[BasicAuth] | None]) -> list[BasicAuth]:
    try:
        found = read(secret_id)
    except (ClientError, BotoCoreError, AuthSecretUnavailable, ValueError) as exc:
        log.warning("%s not managed: cannot read %s: %s", what, secret_id, exc)
        return []
    if found is None:
        log.warning("%s not managed: no secret %s", what, secret_id)
        return []
    log.info("%s from %s: %s", what, secret_id, [u.username for u in found])
    return found


def _connect_host(bind_host: str) -> str:
    # A wildcard bind is reached on loopback from inside the task.
    return "127.0.0.1" if bind_host in ("", "0.0.0.0", "::") else bind_host


if __name__ == "__main__":
    sys.exit(main())
