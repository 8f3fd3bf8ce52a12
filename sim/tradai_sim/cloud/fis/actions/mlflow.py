"""``tradai:mlflow:database-down``: MLflow's backend store is unavailable for the duration.

MLflow's task keeps its SQLite store in ``TRADAI_MLFLOW_DATA_DIR`` (see
``tradai.services.mlflow_server``: ``mlflow.db`` there unless a PostgreSQL store is
configured). A harness connection holds ``BEGIN EXCLUSIVE`` on it, so MLflow's reads and
writes fail with "database is locked" until the lock is released."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tradai.services.mlflow_server.command import SQLITE_FILE
from tradai_sim.cloud.fis.actions.base import ActionFailed, Injection

DATA_DIR_ENV = "TRADAI_MLFLOW_DATA_DIR"
# Any of these says MLflow's store is PostgreSQL (the RDS part sets the host; its login comes in
# through ECS secrets).
STORE_OVERRIDES = ("MLFLOW_BACKEND_STORE_URI", "TRADAI_MLFLOW_DATABASE_SECRET",
                   "TRADAI_MLFLOW_DB_HOST")
LOCK_TIMEOUT_S = 10.0  # wait for a write MLflow has under way


def mlflow_database(mlflow_env: dict[str, str]) -> Path:
    if any(mlflow_env.get(k) for k in STORE_OVERRIDES):
        raise ActionFailed("MLflow's backend store is not the SQLite file of the stack "
                           "(a PostgreSQL store is configured): stop the database with "
                           "tradai:rds:instance-down (template rds-outage) instead")
    data_dir = mlflow_env.get(DATA_DIR_ENV)
    if not data_dir:
        raise ActionFailed(f"MLflow's data dir is unknown ({DATA_DIR_ENV} is not in MLflow's "
                           "environment)")
    path = Path(data_dir) / SQLITE_FILE
    if not path.exists():
        raise ActionFailed(f"MLflow's SQLite store {path} does not exist (has MLflow started?)")
    return path


class DatabaseDown(Injection):
    def start(self) -> None:
        resources = self.env.ctx.resources
        # what MLflow's task is told: its data dir (the seed part), its database (the RDS part)
        self.path = mlflow_database(resources.get("service_env", {}).get("mlflow", {}))
        self.conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None,
                                    check_same_thread=False)
        try:
            self.journal = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
            self.conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.Error as exc:
            self.conn.close()
            raise ActionFailed(f"could not lock {self.path}: {exc}") from exc
        if self.journal == "wal":
            self.notes.append("the store is in WAL mode: MLflow's reads still succeed, only "
                              "its writes fail")
        self.duration = self.env.seconds("duration")

    def end(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        finally:
            self.conn.close()

    def detail(self) -> dict[str, Any]:
        return {"database": str(self.path), "journal_mode": self.journal}
