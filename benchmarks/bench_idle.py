"""What an idle local cloud costs: CPU seconds its processes use while nothing happens.

Every control loop (the ALB's ECS discovery and health checks, the service scheduler, alarms,
schedules) runs all the time, so this is the load one running stack puts under every test and
drill beside it.

    .venv/bin/python benchmarks/bench_idle.py [--settle 45] [--window 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import free_port

from tradai_sim.stack import launcher

TICKS = os.sysconf("SC_CLK_TCK")


def stack_pids(state: Path) -> list[int]:
    """Processes whose command line names the stack's state directory (cloud, tasks, edge,
    Lambda workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(state) in cmdline:
            pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--settle", type=float, default=45.0, help="wall s after ready")
    ap.add_argument("--window", type=float, default=30.0, help="wall s measured")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        launcher.start(state, free_port(), time_scale=20.0)
        try:
            time.sleep(args.settle)
            pids = stack_pids(state)
            before = cpu_seconds(pids)
            time.sleep(args.window)
            used = cpu_seconds(pids) - before
        finally:
            launcher.stop(state)
    print(f"idle stack: {used:.2f} CPU s in {args.window:.0f} wall s "
          f"({100 * used / args.window:.0f}% of a core) over {len(pids)} processes")
    print(f"machine: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
