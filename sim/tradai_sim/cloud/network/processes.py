"""Child processes of the network (the router, egress processes): started in a process group of
their own (so a stop takes whatever they spawned), ready when they write their ready file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tradai_sim.cloud.context import CloudContext


class ChildProcess:
    def __init__(self, ctx: CloudContext, name: str, module: str, args: list[str],
                 env: dict[str, str] | None = None) -> None:
        self.ctx = ctx
        self.name = name
        self.ready_file: Path = ctx.state_dir / "network" / f"{name}.ready.json"
        self.argv = [ctx.python(), "-m", module, *args, "--ready-file", str(self.ready_file)]
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] | None = None

    def spawn(self) -> None:
        self.ready_file.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        with (self.ctx.log_dir / f"{self.name}.log").open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.ctx.child_env(self.env), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.ctx.register_child(self.proc.pid)

    def poll_ready(self) -> dict[str, Any] | None:
        """The ready file's content once written (non-blocking)."""
        if self.info is None and self.ready_file.exists():
            self.info = json.loads(self.ready_file.read_text())
        return self.info

    def wait_ready(self, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (info := self.poll_ready()) is None:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited at start; see logs/{self.name}.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready within {timeout} s")
            time.sleep(0.02)
        return info

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def kill(self) -> None:
        """Gone at once, as a stopped instance's network stack is (no graceful close)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, grace: float = 3.0) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()
