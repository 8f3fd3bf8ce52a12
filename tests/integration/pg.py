"""A private PostgreSQL cluster for a test: temp dir, free port, stopped and removed after.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(``runuser``); otherwise it runs as the current user. Clients reach it over TCP on 127.0.0.1
with a password (scram); the superuser only over the cluster's own Unix socket.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.integration.cloud import free_port

SYSTEM_USER = "postgres"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PgCluster:
    root: Path
    port: int
    run_as: str | None  # system user when started as root

    @property
    def data(self) -> Path:
        return self.root / "data"

    def command(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else list(argv)

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(self.command(_tool("psql"), "-h", str(self.root), "-p", str(self.port),
                                    "-U", SUPERUSER, "-d", database, "-v", "ON_ERROR_STOP=1",
                                    "-q", "-c", sql),
                       check=True, capture_output=True, timeout=30)

    def create_database(self, name: str, owner: str, password: str) -> None:
        """A login role with a password and a database it owns."""
        self.psql(f"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE \"{name}\" OWNER \"{owner}\"")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(self.command(_tool("pg_ctl"), "stop", "-D", str(self.data),
                                        "-m", "fast", "-w"), capture_output=True, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def available() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    for tool in ("initdb", "pg_ctl", "psql"):
        if _find(tool) is None:
            return f"{tool} not found (PostgreSQL server binaries are needed)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no {SYSTEM_USER!r} user to run PostgreSQL"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def start_cluster() -> PgCluster:
    run_as = SYSTEM_USER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="tradai-pg-"))
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = PgCluster(root, free_port(), run_as)
    try:
        subprocess.run(cluster.command(_tool("initdb"), "-D", str(cluster.data), "-U", SUPERUSER,
                                       "--auth-local=trust", "--auth-host=scram-sha-256",
                                       "-E", "UTF8", "--no-sync"),
                       check=True, capture_output=True, timeout=60)
        options = (f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        subprocess.run(cluster.command(_tool("pg_ctl"), "start", "-D", str(cluster.data),
                                       "-o", options, "-l", str(root / "server.log"), "-w",
                                       "-t", "30"),
                       check=True, capture_output=True, timeout=60)
    except (subprocess.SubprocessError, OSError):
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


def _tool(name: str) -> str:
    found = _find(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found")
    return found


def _find(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None
