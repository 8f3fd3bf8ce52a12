"""The RDS part's pieces without a stack: the embedded server's lifecycle (fresh data dir,
restart with its data, a kill as on a power loss), the store switch, and the moto hook that
makes DescribeDBInstances answer the real address."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from tradai_sim.cloud.rds import moto_hooks
from tradai_sim.cloud.rds.part import STORE_ENV, RdsError, mlflow_store
from tradai_sim.cloud.rds.server import Cluster, available, server_version
from tradai_sim.ports import free_port


def _connect(port: int, password: str) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, dbname="mlflow", user="mlflow",
                           password=password, connect_timeout=5, autocommit=True)


def test_binaries_come_from_the_wheel() -> None:
    assert available() is None
    assert server_version().startswith("16.")


def test_server_from_a_fresh_dir_keeps_its_data_across_stop_and_kill(tmp_path: Path) -> None:
    # tmp_path is under pytest's 0700 dir: as root the server still reaches it
    cluster = Cluster(tmp_path / "state" / "data", free_port(), tmp_path / "rds.log")
    assert not cluster.initialized
    cluster.init("mlflow", "s3cret 'quoted'")
    try:
        cluster.start()
        assert cluster.ensure_database("mlflow", "mlflow", superuser="mlflow")
        assert not cluster.ensure_database("mlflow", "mlflow", superuser="mlflow")
        with _connect(cluster.port, "s3cret 'quoted'") as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('before')")
        with pytest.raises(psycopg.OperationalError):
            _connect(cluster.port, "wrong")
        cluster.stop()
        assert not cluster.running
        with pytest.raises(psycopg.OperationalError):
            _connect(cluster.port, "s3cret 'quoted'")
        cluster.start()  # same data dir: a restart, not a new cluster
        with _connect(cluster.port, "s3cret 'quoted'") as conn:
            conn.execute("INSERT INTO kept VALUES ('after restart')")
        pid = cluster.pid
        cluster.kill()  # a power loss: no shutdown; crash recovery at the next start
        with pytest.raises(ProcessLookupError):
            import os
            os.kill(pid or 0, 0)
        cluster.start()
        with _connect(cluster.port, "s3cret 'quoted'") as conn:
            rows = [r[0] for r in conn.execute("SELECT v FROM kept ORDER BY v")]
        assert rows == ["after restart", "before"]
    finally:
        cluster.stop()
    assert not cluster.running


def test_store_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert mlflow_store() == "postgres"
    monkeypatch.setenv(STORE_ENV, "SQLite")
    assert mlflow_store() == "sqlite"
    monkeypatch.setenv(STORE_ENV, "mysql")
    with pytest.raises(RdsError, match="one of postgres, sqlite"):
        mlflow_store()


def test_describe_answers_the_registered_address() -> None:
    original = property(lambda self: f"{self.db_instance_identifier}.aaaaaaaaaa.rds.amazonaws.com")
    patched = moto_hooks.db_instance_address(original)
    ours = SimpleNamespace(db_instance_identifier="tradai-local-mlflow")
    other = SimpleNamespace(db_instance_identifier="someone-else")
    moto_hooks.ENDPOINTS["tradai-local-mlflow"] = "127.0.0.1"
    try:
        assert patched.fget(ours) == "127.0.0.1"
        assert patched.fget(other) == "someone-else.aaaaaaaaaa.rds.amazonaws.com"
    finally:
        moto_hooks.ENDPOINTS.pop("tradai-local-mlflow")
    assert patched.fget(ours).endswith(".rds.amazonaws.com")
