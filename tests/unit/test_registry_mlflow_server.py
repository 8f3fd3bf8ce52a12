"""The MLflow service's command line: backend store choice, artifacts, job consumers off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tradai.services.mlflow_server.command import backend_store_uri, server_argv, server_env
from tradai.services.mlflow_server.settings import MlflowServerSettings


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> MlflowServerSettings:
    for key in ("MLFLOW_BACKEND_STORE_URI", "TRADAI_MLFLOW_DATABASE_SECRET", "PORT",
                "TRADAI_MLFLOW_DATA_DIR", "TRADAI_DATA_DIR", "AWS_ENDPOINT_URL",
                "TRADAI_BUCKET_MLFLOW_ARTIFACTS", "TRADAI_MLFLOW_DB_HOST"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return MlflowServerSettings()


def test_sqlite_in_the_data_dir_by_default(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    s = settings(monkeypatch, TRADAI_MLFLOW_DATA_DIR=str(tmp_path / "d"), PORT="5123")
    assert backend_store_uri(s) == f"sqlite:///{tmp_path / 'd' / 'mlflow.db'}"
    argv = server_argv(s, "sqlite:///x.db")
    assert argv[argv.index("--port") + 1] == "5123"
    assert argv[argv.index("--workers") + 1] == "1"
    assert "--artifacts-destination" not in argv


def test_postgres_from_the_database_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, TRADAI_MLFLOW_DATABASE_SECRET="db-secret",
                 TRADAI_MLFLOW_DB_HOST="db.internal")
    secret = json.dumps({"username": "ml", "password": "p@ss/word"})
    uri = backend_store_uri(s, read_secret=lambda sid: secret if sid == "db-secret" else "")
    assert uri == "postgresql://ml:p%40ss%2Fword@db.internal:5432/mlflow"
    with pytest.raises(ValueError, match="TRADAI_MLFLOW_DB_HOST"):
        backend_store_uri(settings(monkeypatch, TRADAI_MLFLOW_DATABASE_SECRET="x"),
                          read_secret=lambda sid: secret)


def test_an_explicit_store_uri_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://u:p@h/db",
                 TRADAI_MLFLOW_DATABASE_SECRET="ignored")
    assert backend_store_uri(s) == "postgresql+psycopg2://u:p@h/db"


def test_artifacts_proxied_to_s3_of_the_configured_endpoint(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    s = settings(monkeypatch, TRADAI_BUCKET_MLFLOW_ARTIFACTS="arts",
                 AWS_ENDPOINT_URL="http://127.0.0.1:4566")
    argv = server_argv(s, "sqlite:///x.db")
    assert argv[argv.index("--artifacts-destination") + 1] == "s3://arts/"
    env = server_env(s, {"PATH": "/bin"})
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["PATH"] == "/bin"
