"""``tradai backtest wait``: poll the status with a live progress bar until it settles."""

from __future__ import annotations

import time
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tradai.cli.api import Api, CliError
from tradai.cli.render import console

FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def wait_for_backtest(api: Api, job_id: str, interval: float, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task(f"{job_id[:8]} QUEUED", total=100)
        while True:
            status = api.request("GET", f"/api/v1/backtests/{job_id}")
            progress.update(bar, completed=float(status.get("progress") or 0),
                            description=f"{job_id[:8]} {status['status']}")
            if status["status"] in FINAL:
                return dict(status)
            if time.monotonic() > deadline:
                raise TimeoutError(f"backtest {job_id} still {status['status']} after "
                                   f"{timeout:g} s")
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                raise CliError("stopped waiting (the backtest goes on)") from None
