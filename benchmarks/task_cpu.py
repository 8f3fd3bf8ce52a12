"""CPU of strategy-container processes, per thread, read from the kernel while they run.

Watches this machine for the next ``--count`` processes running ``tradai.strategy_container``
(the local ECS runtime's strategy tasks), polls ``/proc/<pid>/task/*/schedstat`` until each
exits, and prints one line per task: wall seconds seen, the main thread's CPU and run-queue
wait, and the other threads' CPU (Freqtrade's helpers, thread pools, ArcticDB's pools). No
sampler runs inside the task, so the figures are the task's own. Run it beside a benchmark:

    .venv/bin/python benchmarks/task_cpu.py --count 24 &
    benchmarks/ab.sh b64dba1 3 bench_backtests_e2e.py --no-burst

Linux only (``/proc``). Tasks that overlap are followed one after the other: use it with one
backtest at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

MARK = b"tradai.strategy_container"


def find(seen: set[int]) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in seen:
            continue
        try:
            if MARK in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    return None


def follow(pid: int, poll_s: float) -> dict[str, float]:
    """schedstat of every thread, last value before the process exits: on-CPU ns, run-queue
    ns, time slices."""
    started = time.perf_counter()
    threads: dict[str, list[int]] = {}
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):  # a thread that just ended
                    stat = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
                    threads[tid] = [int(x) for x in stat.split()]
        except OSError:
            break
        time.sleep(poll_s)
    main = threads.pop(str(pid), [0, 0, 0])
    others = list(threads.values())
    return {"wall_s": time.perf_counter() - started, "main_cpu_s": main[0] / 1e9,
            "main_runqueue_s": main[1] / 1e9, "main_slices": main[2],
            "other_threads": len(others),
            "other_cpu_s": sum(t[0] for t in others) / 1e9,
            "busiest_other_cpu_s": max((t[0] for t in others), default=0) / 1e9}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1, help="tasks to follow")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between reads")
    args = parser.parse_args()
    seen: set[int] = set()
    for n in range(1, args.count + 1):
        pid = None
        while pid is None:
            pid = find(seen)
            time.sleep(0.005)
        seen.add(pid)
        f = follow(pid, args.poll)
        print(f"task {n} (pid {pid}): wall {f['wall_s']:.2f} s; main thread cpu "
              f"{f['main_cpu_s']:.2f} s, run-queue {f['main_runqueue_s']:.2f} s, "
              f"{f['main_slices']} slices; {f['other_threads']} other threads cpu "
              f"{f['other_cpu_s']:.2f} s (busiest {f['busiest_other_cpu_s']:.2f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
