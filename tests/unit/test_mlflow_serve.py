"""MLflow served in the task's own process (serve.py): the environment ``mlflow server`` would
give its workers, and which path main() takes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tradai.registry.credentials import BasicAuth
from tradai.services.mlflow_server import main as M
from tradai.services.mlflow_server import serve as S
from tradai.services.mlflow_server.settings import MlflowServerSettings

KEYS = ("MLFLOW_BACKEND_STORE_URI", "TRADAI_MLFLOW_DATABASE_SECRET", "PORT",
        "TRADAI_MLFLOW_DATA_DIR", "TRADAI_DATA_DIR", "AWS_ENDPOINT_URL",
        "TRADAI_BUCKET_MLFLOW_ARTIFACTS", "TRADAI_MLFLOW_DB_HOST", "TRADAI_MLFLOW_WORKERS",
        "TRADAI_MLFLOW_STATIC_PREFIX", "TRADAI_MLFLOW_DB_USERNAME", "TRADAI_MLFLOW_DB_PASSWORD")


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> MlflowServerSettings:
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return MlflowServerSettings()


def test_the_names_are_mlflows_own() -> None:
    """The variables the CLI hands its workers, by the names this MLflow reads."""
    from mlflow.server import constants, handlers

    assert S.BACKEND_STORE_URI_ENV_VAR == constants.BACKEND_STORE_URI_ENV_VAR
    assert S.REGISTRY_STORE_URI_ENV_VAR == constants.REGISTRY_STORE_URI_ENV_VAR
    assert S.ARTIFACT_ROOT_ENV_VAR == constants.ARTIFACT_ROOT_ENV_VAR
    assert S.SERVE_ARTIFACTS_ENV_VAR == constants.SERVE_ARTIFACTS_ENV_VAR
    assert S.ARTIFACTS_DESTINATION_ENV_VAR == constants.ARTIFACTS_DESTINATION_ENV_VAR
    assert S.STATIC_PREFIX_ENV_VAR == handlers.STATIC_PREFIX_ENV_VAR
    from mlflow.environment_variables import (
        _MLFLOW_IN_JOB_EXECUTOR,
        _MLFLOW_SERVER_BOOT_ID,
        _MLFLOW_SGI_NAME,
        MLFLOW_ENABLE_WORKSPACES,
    )

    assert _MLFLOW_SGI_NAME.name == S.SGI_NAME_ENV_VAR
    assert _MLFLOW_SERVER_BOOT_ID.name == S.BOOT_ID_ENV_VAR
    assert _MLFLOW_IN_JOB_EXECUTOR.name == S.IN_JOB_EXECUTOR_ENV_VAR
    assert MLFLOW_ENABLE_WORKSPACES.name == S.ENABLE_WORKSPACES_ENV_VAR


def test_proxied_artifacts_and_the_prefix_as_the_cli_sets_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, TRADAI_BUCKET_MLFLOW_ARTIFACTS="art",
                 TRADAI_MLFLOW_STATIC_PREFIX="/mlflow")
    env = S.app_environment(s, "postgresql://u:p@h:5432/mlflow")
    assert env[S.BACKEND_STORE_URI_ENV_VAR] == env[S.REGISTRY_STORE_URI_ENV_VAR] == \
        "postgresql://u:p@h:5432/mlflow"
    assert env[S.SERVE_ARTIFACTS_ENV_VAR] == "true"
    assert env[S.ARTIFACTS_DESTINATION_ENV_VAR] == "s3://art/"
    assert env[S.ARTIFACT_ROOT_ENV_VAR] == "mlflow-artifacts:/"  # the proxy's URI scheme
    assert env[S.STATIC_PREFIX_ENV_VAR] == "/mlflow"
    assert env[S.SGI_NAME_ENV_VAR] == "uvicorn"  # the auth app wraps the FastAPI app then


def test_local_artifacts_without_a_bucket(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    env = S.app_environment(settings(monkeypatch), f"sqlite:///{tmp_path}/mlflow.db")
    assert S.SERVE_ARTIFACTS_ENV_VAR not in env and S.STATIC_PREFIX_ENV_VAR not in env
    assert env[S.ARTIFACT_ROOT_ENV_VAR]


def _main(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: str) -> dict[str, Any]:
    settings(monkeypatch, TRADAI_MLFLOW_WORKERS=workers,
             TRADAI_MLFLOW_DATA_DIR=str(tmp_path))
    admin = BasicAuth("admin-user", "a-long-password")
    monkeypatch.setattr(M, "resolve_basic_auth", lambda s: admin)
    monkeypatch.setattr(M, "_managed_users", lambda s: [BasicAuth("reader", "pw-reader-1")])
    seen: dict[str, Any] = {}
    synced = threading.Event()

    def sync_when_up(url: str, creds: BasicAuth, managed: list[BasicAuth],
                     alive: Callable[[], bool]) -> None:
        seen.update(sync=([u.username for u in managed], alive()))
        synced.set()

    monkeypatch.setattr(M.users, "sync_when_up", sync_when_up)
    monkeypatch.setattr(M.serve, "serve", lambda s, store, env, with_auth: seen.update(
        served=(store, with_auth, env["MLFLOW_AUTH_CONFIG_PATH"])) or 0)
    # The supervisor hands the sync whether its child still runs.
    monkeypatch.setattr(M, "run_supervised", lambda argv, env, sync: seen.update(
        supervised=argv, started=sync(lambda: False)) or 0)
    assert M.main() == 0
    assert synced.wait(30), "the users sync never ran"
    return seen


def test_one_worker_is_served_here_with_auth_and_the_users_sync(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _main(monkeypatch, tmp_path, "1")
    assert "supervised" not in seen
    store, with_auth, config = seen["served"]
    assert store == f"sqlite:///{tmp_path / 'mlflow.db'}" and with_auth
    assert Path(config) == tmp_path / "mlflow-auth.ini"
    assert seen["sync"] == (["reader"], True)  # the server is this very process


def test_more_workers_go_through_mlflow_server(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    seen = _main(monkeypatch, tmp_path, "2")
    assert "served" not in seen
    argv = seen["supervised"]
    assert argv[argv.index("--workers") + 1] == "2" and "basic-auth" in argv
    assert seen["sync"] == (["reader"], False)
