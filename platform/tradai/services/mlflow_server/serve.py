"""MLflow served from this very process: stores initialised (the migrations), the basic-auth
admin bootstrapped, then the app on uvicorn, in one interpreter.

``mlflow server`` imports MLflow and migrates, then runs ``python -m uvicorn`` in a second
interpreter that imports MLflow and the app all over again before it answers (task logs: +7 s
at load 5, +60 s at load 24; the task's CPU until the stack is usable fell from 19-23 s to
9-13 s, ``benchmarks/bench_up.py``). With one worker (the default) nothing needs that second
interpreter; ``TRADAI_MLFLOW_WORKERS`` above 1 still goes through ``mlflow server``
(command.py, supervisor.py).

This does what MLflow 3.17's ``mlflow.cli.server`` and ``mlflow.server._run_server`` do for the
options this service uses (command.py's ``server_argv``): the environment the server app reads
(names as in ``mlflow.server.constants``), ``initialize_backend_stores``, the basic-auth
bootstrap (``create_app`` runs it), uvicorn. That environment must be set before
``mlflow.server`` is imported: it registers its routes under the static prefix and turns on its
security middleware at import.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from tradai.services.mlflow_server.settings import MlflowServerSettings

log = logging.getLogger("tradai.mlflow_server")

# mlflow.server.constants / handlers (internal names the CLI hands its workers).
BACKEND_STORE_URI_ENV_VAR = "_MLFLOW_SERVER_FILE_STORE"
REGISTRY_STORE_URI_ENV_VAR = "_MLFLOW_SERVER_REGISTRY_STORE"
ARTIFACT_ROOT_ENV_VAR = "_MLFLOW_SERVER_ARTIFACT_ROOT"
SERVE_ARTIFACTS_ENV_VAR = "_MLFLOW_SERVER_SERVE_ARTIFACTS"
ARTIFACTS_DESTINATION_ENV_VAR = "_MLFLOW_SERVER_ARTIFACT_DESTINATION"
STATIC_PREFIX_ENV_VAR = "_MLFLOW_STATIC_PREFIX"
SGI_NAME_ENV_VAR = "_MLFLOW_SGI_NAME"  # "uvicorn": the auth app wraps the FastAPI app
BOOT_ID_ENV_VAR = "_MLFLOW_SERVER_BOOT_ID"
IN_JOB_EXECUTOR_ENV_VAR = "_MLFLOW_IN_JOB_EXECUTOR"
ENABLE_WORKSPACES_ENV_VAR = "MLFLOW_ENABLE_WORKSPACES"


def in_process(settings: MlflowServerSettings) -> bool:
    """One worker: served here. More: ``mlflow server``, whose uvicorn runs the workers."""
    return settings.workers == 1


def app_environment(settings: MlflowServerSettings, store_uri: str) -> dict[str, str]:
    """What ``mlflow server`` would put in its workers' environment for these settings."""
    from mlflow.utils.server_cli_utils import resolve_default_artifact_root

    serve_artifacts = bool(settings.artifacts_bucket)
    env = {
        BACKEND_STORE_URI_ENV_VAR: store_uri,
        REGISTRY_STORE_URI_ENV_VAR: store_uri,
        ARTIFACT_ROOT_ENV_VAR: resolve_default_artifact_root(serve_artifacts, "", store_uri),
        SGI_NAME_ENV_VAR: "uvicorn",
        BOOT_ID_ENV_VAR: uuid.uuid4().hex,
        IN_JOB_EXECUTOR_ENV_VAR: "false",
        ENABLE_WORKSPACES_ENV_VAR: "false",
    }
    if serve_artifacts:
        env[SERVE_ARTIFACTS_ENV_VAR] = "true"
        env[ARTIFACTS_DESTINATION_ENV_VAR] = f"s3://{settings.artifacts_bucket}/"
    if settings.static_prefix:
        env[STATIC_PREFIX_ENV_VAR] = settings.static_prefix
    return env


def build_app(store_uri: str, with_auth: bool) -> Any:
    """Migrate the stores, then the ASGI app (basic auth: its tables and admin too).
    ``os.environ`` must already hold ``app_environment``."""
    from mlflow.server.handlers import initialize_backend_stores

    initialize_backend_stores(store_uri, store_uri, os.environ[ARTIFACT_ROOT_ENV_VAR])
    if with_auth:
        from mlflow.server.auth import create_app

        return create_app()
    from mlflow.server.fastapi_app import app

    return app


def serve(settings: MlflowServerSettings, store_uri: str, env: Mapping[str, str],
          with_auth: bool) -> int:
    """Serve until SIGTERM/SIGINT (uvicorn's own handlers: a graceful shutdown)."""
    # Exactly the server's environment (auth.configure leaves out variables that would
    # override the auth file), plus what the CLI would hand its workers.
    os.environ.clear()
    os.environ.update(env)
    os.environ.update(app_environment(settings, store_uri))
    app = build_app(store_uri, with_auth)
    import uvicorn

    log.info("MLflow app ready; serving on %s:%s", settings.host, settings.port)
    # No log config of uvicorn's own: its loggers reach the task's root handler (one line per
    # record, the task's format).
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
    return 0
