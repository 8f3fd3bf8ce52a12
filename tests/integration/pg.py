"""A private PostgreSQL cluster for a test: temp dir, free port, stopped and removed after.

The server binaries come from the ``pgserver`` wheel (``tradai_sim.cloud.rds.server``, the
same server the local cloud runs as RDS), so no system package is needed. As root the cluster
belongs to an unprivileged user (PostgreSQL refuses root). Clients reach it over TCP on
127.0.0.1 with a password (scram); the superuser only over the cluster's own Unix socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.integration.cloud import free_port
from tradai_sim.cloud.rds import server
from tradai_sim.cloud.rds.server import Cluster


class PgCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cluster = Cluster(root / "data", free_port(), root / "server.log")

    @property
    def port(self) -> int:
        return self.cluster.port

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self.cluster.psql(sql, database)

    def create_database(self, name: str, owner: str, password: str) -> None:
        """A login role with a password and a database it owns."""
        self.cluster.create_login(owner, password)
        self.cluster.ensure_database(name, owner)

    def stop(self) -> None:
        self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def available() -> str | None:
    """Why a cluster cannot be started here, or None when it can (the wheel is a dependency:
    a reason here means a broken install, and the tests using it fail rather than skip)."""
    return server.available()


def start_cluster() -> PgCluster:
    # /tmp, not pytest's tmp_path: as root the cluster's owner must reach the directory.
    root = Path(tempfile.mkdtemp(prefix="tradai-pg-"))
    os.chmod(root, 0o755)
    cluster = PgCluster(root)
    try:
        cluster.cluster.init()
        cluster.cluster.start()
    except Exception:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running_cluster() -> Iterator[PgCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
