"""CPU an idle local cloud spends, per process, from the kernel's own accounting (no sampler
in the processes): starts a cloud (time scale 20), lets its services and seed settle, then
reads every stack process's user + system time over ``--seconds``.

    .venv/bin/python benchmarks/idle_cpu.py [--settle 45] [--seconds 30]

Prints CPU milliseconds per wall second for each process (by its command) and the total.
``benchmarks/ab.sh REV 2 idle_cpu.py`` compares two commits. ``profile_idle.py`` says where
inside a process the time goes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.cloud import start_cloud  # noqa: E402
from tradai_sim.cloud.context import CHILDREN_FILE  # noqa: E402


def label(proc: psutil.Process) -> str:
    """The module a stack process runs (``-m X``), else its program."""
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return "?"
    if "-m" in argv:
        return argv[argv.index("-m") + 1]
    return Path(argv[0]).name if argv else "?"


def stack_processes(cloud_pid: int, state_dir: Path) -> list[psutil.Process]:
    """The cloud, every process it recorded starting, and their descendants."""
    pids = {cloud_pid}
    listed = state_dir / CHILDREN_FILE
    if listed.exists():
        pids |= {int(p) for p in listed.read_text().split()}
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            found[pid] = proc
            found.update({c.pid: c for c in proc.children(recursive=True)})
        except psutil.Error:
            continue
    return list(found.values())


def cpu(proc: psutil.Process) -> float | None:
    try:
        t = proc.cpu_times()
    except psutil.Error:
        return None
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settle", type=float, default=45.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="idle-cpu-"))
    cloud = start_cloud(state_dir, time_scale=20.0)
    try:
        time.sleep(args.settle)
        assert cloud.proc is not None
        procs = stack_processes(cloud.proc.pid, state_dir)
        before = {p.pid: cpu(p) for p in procs}
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        per_label: dict[str, float] = defaultdict(float)
        for p in procs:
            after, first = cpu(p), before.get(p.pid)
            if after is not None and first is not None:  # alive for the whole window
                per_label[label(p)] += (after - first) * 1000 / elapsed
    finally:
        cloud.stop()
    print(f"CPU ms per wall second of an idle stack ({len(procs)} processes, "
          f"{elapsed:.0f} s after {args.settle:.0f} s to settle):")
    for name, ms in sorted(per_label.items(), key=lambda kv: -kv[1]):
        print(f"  {ms:7.1f}  {name}")
    print(f"  {sum(per_label.values()):7.1f}  total")


if __name__ == "__main__":
    main()
