"""``python -m tradai_sim.exchange`` on a free port for a test module, on the wall clock (no
shared-clock env), stopped by the test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tradai_sim.exchange.server import CCXT_API_PATHS


class ExchangeProcess:
    def __init__(self, tmp: Path, seed: int, pairs: list[str]) -> None:
        ready = tmp / "exchange.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADAI_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradai_sim.exchange", "--port", "0", "--seed", str(seed),
             "--pairs", ",".join(pairs), "--ready-file", str(ready)],
            env=env, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while not ready.exists() or not ready.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("exchange process did not start")
            time.sleep(0.05)
        self.url: str = json.loads(ready.read_text())["url"]

    def urls(self) -> dict[str, Any]:
        """CCXT's ``urls`` setting pointed at this exchange."""
        return {"api": {name: self.url + path for name, path in CCXT_API_PATHS.items()}}

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if body is None and path != "reset":
            r = requests.get(f"{self.url}/_admin/{path}", timeout=5)
        else:
            r = requests.post(f"{self.url}/_admin/{path}", json=body or {}, timeout=5)
        r.raise_for_status()
        return r.json()

    def klines_calls(self) -> int:
        return int(self.admin("stats")["paths"].get("/api/v3/klines", 0))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
