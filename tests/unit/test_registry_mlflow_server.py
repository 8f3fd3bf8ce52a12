"""The MLflow service's command line: backend store choice, artifacts, job consumers off."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tradai.services.mlflow_server.command import backend_store_uri, server_argv, server_env
from tradai.services.mlflow_server.settings import MlflowServerSettings


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> MlflowServerSettings:
    for key in ("MLFLOW_BACKEND_STORE_URI", "TRADAI_MLFLOW_DATABASE_SECRET", "PORT",
                "TRADAI_MLFLOW_DATA_DIR", "TRADAI_DATA_DIR", "AWS_ENDPOINT_URL",
                "TRADAI_BUCKET_MLFLOW_ARTIFACTS", "TRADAI_MLFLOW_DB_HOST",
                "TRADAI_MLFLOW_DB_USERNAME", "TRADAI_MLFLOW_DB_PASSWORD"):
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


def test_postgres_from_credentials_injected_by_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Pulumi program hands the database secret's JSON keys in through ECS `secrets`: no
    # Secrets Manager call (the task role cannot read that secret), and they win over its name.
    s = settings(monkeypatch, TRADAI_MLFLOW_DB_USERNAME="ml", TRADAI_MLFLOW_DB_PASSWORD="p@ss",
                 TRADAI_MLFLOW_DB_HOST="db.internal", TRADAI_MLFLOW_DATABASE_SECRET="unused")

    def no_read(secret_id: str) -> str:
        raise AssertionError(f"read {secret_id}")

    assert backend_store_uri(s, read_secret=no_read) == \
        "postgresql://ml:p%40ss@db.internal:5432/mlflow"
    assert "p@ss" not in repr(s)
    with pytest.raises(ValueError, match="both be set"):
        backend_store_uri(settings(monkeypatch, TRADAI_MLFLOW_DB_USERNAME="ml",
                                   TRADAI_MLFLOW_DB_HOST="h"), read_secret=no_read)
    with pytest.raises(ValueError, match="TRADAI_MLFLOW_DB_HOST"):
        backend_store_uri(settings(monkeypatch, TRADAI_MLFLOW_DB_USERNAME="ml",
                                   TRADAI_MLFLOW_DB_PASSWORD="p"), read_secret=no_read)


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


SUPERVISED = """
import sys
from tradai.services.mlflow_server.supervisor import run_supervised
# The child starts a grandchild (as mlflow server starts uvicorn), then both wait.
child = ("import subprocess, sys, time; "
         "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
         "open(sys.argv[1], 'w').write(str(g.pid)); time.sleep(60)")
sys.exit(run_supervised([sys.executable, '-c', child, sys.argv[1]], {}))
"""


def test_sigterm_to_the_supervisor_stops_the_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    # As the ECS runtime starts a task: its own session, so it leads its process group.
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISED, str(marker)],
                            start_new_session=True)
    try:
        deadline = time.time() + 20
        while not (marker.exists() and marker.read_text()):
            assert time.time() < deadline, "the supervised child did not start"
            time.sleep(0.05)
        grandchild = int(marker.read_text())
        assert os.getpgid(grandchild) == proc.pid  # same group: an ECS group kill reaches it
        proc.send_signal(signal.SIGTERM)  # the supervisor alone, as `docker stop` would
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
        deadline = time.time() + 5
        while _alive(grandchild):
            assert time.time() < deadline, "the grandchild outlived the supervisor"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False
