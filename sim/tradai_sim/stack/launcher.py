"""Start and stop the cloud process; every failure is one clear line naming the fix."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tradai.topology import SpecError, load_topology
from tradai_sim.cloud.context import CHILDREN_FILE
from tradai_sim.cloud.main import PROGRESS_FILE
from tradai_sim.stack.state import STACK_FILE, StackRecord, pid_alive

READY_TIMEOUT = 120.0
STOP_GRACE = 20.0


class StackError(Exception):
    """A problem the user can fix; the message says how."""


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"port {port} is already in use ({exc.strerror}); stop what uses it or pass "
                f"--port with a free port") from exc


def check_state_dir(state_dir: Path) -> None:
    try:
        (state_dir / "logs").mkdir(parents=True, exist_ok=True)
        probe = state_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise StackError(
            f"state dir {state_dir} is not writable ({exc.strerror}); pass --state-dir with a "
            f"writable directory") from exc


def health(endpoint: str) -> dict[str, Any] | None:
    try:
        return requests.get(f"{endpoint}/_sim/health", timeout=2).json()
    except (requests.RequestException, ValueError):
        return None


def running_stack(state_dir: Path) -> StackRecord | None:
    """The stack recorded in ``state_dir``; raises when it is half-started or half-dead."""
    rec = StackRecord.read(state_dir)
    if rec is None:
        return None
    if not pid_alive(rec.pid):
        if _leftover_children(state_dir):
            raise StackError(
                f"a half-stopped stack is in {state_dir} (cloud process gone, its processes "
                f"remain); run `tradai-sim down --state-dir {state_dir}` first")
        (state_dir / STACK_FILE).unlink()
        return None
    h = health(rec.endpoint)
    if not h or not h.get("ready"):
        raise StackError(
            f"a half-started stack is in {state_dir} (pid {rec.pid} not ready); run "
            f"`tradai-sim down --state-dir {state_dir}` first")
    return rec


STALE_DIRS = ("mlflow", "tasks", "network", "lambda-code", "edge")


def start(state_dir: Path, port: int, time_scale: float, host: str = "127.0.0.1",
          spec: str | None = None, on_progress: Callable[[str], None] | None = None,
          mlflow_store: str | None = None) -> StackRecord:
    if time_scale <= 0:
        raise StackError(f"--time-scale must be positive, got {time_scale}")
    try:
        load_topology(spec)
    except SpecError as exc:
        raise StackError(f"invalid topology spec: {exc}") from exc
    check_state_dir(state_dir)
    check_port_free(host, port)
    for stale in (PROGRESS_FILE, CHILDREN_FILE, "cloud.json"):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / stale).unlink()
    # The emulator keeps its state in memory: what processes derived from a previous stack
    # (MLflow's database, whose artifacts lived in the old S3) must go with it.
    for stale_dir in STALE_DIRS:
        shutil.rmtree(state_dir / stale_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "tradai_sim.cloud.main", "--state-dir", str(state_dir),
           "--host", host, "--port", str(port), "--time-scale", str(time_scale)]
    if spec:
        cmd += ["--spec", spec]
    with open(state_dir / "logs" / "cloud.stderr", "ab") as err:
        # MLflow client credentials of the caller's shell belong to another server
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
        if mlflow_store:  # read by the RDS part (tradai_sim.cloud.rds.part)
            env["TRADAI_SIM_MLFLOW_STORE"] = mlflow_store
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    rec = StackRecord(proc.pid, port, f"http://{host}:{port}", time_scale, time.time())
    rec.write(state_dir)
    seen = 0
    deadline = time.time() + READY_TIMEOUT
    progress = state_dir / PROGRESS_FILE
    while time.time() < deadline:
        lines = progress.read_text().splitlines() if progress.exists() else []
        for line in lines[seen:]:
            if line.startswith("FAILED"):
                stop(state_dir)
                raise StackError(f"the cloud failed to start: {line[8:]} (see "
                                 f"{state_dir}/logs/cloud.log)")
            if on_progress:
                on_progress(line)
        seen = len(lines)
        if proc.poll() is not None:
            stop(state_dir)
            raise StackError(f"the cloud process exited with {proc.returncode} while "
                             f"starting; see {state_dir}/logs/cloud.stderr")
        h = health(rec.endpoint)
        if h and h.get("ready"):
            return rec
        time.sleep(0.1)
    stop(state_dir)
    raise StackError(f"the cloud was not ready within {READY_TIMEOUT:.0f} s; see "
                     f"{state_dir}/logs/cloud.log")


def _leftover_children(state_dir: Path) -> list[int]:
    path = state_dir / CHILDREN_FILE
    if not path.exists():
        return []
    return [pid for pid in {int(x) for x in path.read_text().split()} if pid_alive(pid)]


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop(state_dir: Path) -> bool:
    """Stop the stack in ``state_dir``: every process it started. False if none was there."""
    rec = StackRecord.read(state_dir)
    children = _leftover_children(state_dir)
    if rec is None and not children:
        return False
    if rec is not None and pid_alive(rec.pid):
        _kill_group(rec.pid, signal.SIGTERM)
        deadline = time.time() + STOP_GRACE
        while pid_alive(rec.pid) and time.time() < deadline:
            time.sleep(0.1)
        _kill_group(rec.pid, signal.SIGKILL)
    # The cloud stops its children itself; anything it could not reap goes now.
    leftovers = _leftover_children(state_dir)
    for pid in leftovers:
        _kill_group(pid, signal.SIGKILL)
    deadline = time.time() + 5
    while any(pid_alive(p) for p in leftovers) and time.time() < deadline:
        time.sleep(0.05)
    for name in (STACK_FILE, CHILDREN_FILE):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()
    return True
