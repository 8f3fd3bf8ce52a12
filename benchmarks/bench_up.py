"""``tradai-sim up`` to usable (issue 15: at most 20 s): wall seconds from ``launcher.start`` to
the cloud ready, to each service ready as ``up`` judges it (``tradai_sim.stack.readiness``:
running, and healthy behind the ALB where load-balanced) and to the example strategies
registered; cold (a fresh state dir) and warm (the state dir of a previous stack: PostgreSQL's
data, hence MLflow's tables and the registered examples, are kept).

    .venv/bin/python benchmarks/bench_up.py [--runs 3] [--store postgres] [--json out.json]

Each run also reports the CPU seconds of the whole stack (every process it started, reaped at
``down``: start, the wait, and stopping), which a loaded machine distorts less than wall time.
Runs alternate cold and warm so a busy machine weighs on both alike. The readiness poll here is
0.1 s (the CLI's is its own): the figures are when each part became ready, not when ``up``
noticed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from common import free_port

from tradai_sim.stack import launcher, readiness

TIME_SCALE = 20.0  # the CLI's default
TIMEOUT = 600.0


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one(state: Path) -> dict[str, Any]:
    cpu0 = children_cpu()
    marks: dict[str, float] = {}
    started = time.time()

    def progress(line: str) -> None:
        marks.setdefault(line[:40], time.time() - started)

    rec = launcher.start(state, free_port(), TIME_SCALE, on_progress=progress)
    took: dict[str, float] = {"cloud ready": time.time() - started}
    try:
        deadline = time.time() + TIMEOUT
        while True:
            status = requests.get(f"{rec.endpoint}/_sim/status", timeout=10).json()
            if (why := readiness.failed(status)) is not None:
                raise RuntimeError(why)
            parts = readiness.components(status)
            now = time.time() - started
            for c in parts:
                if c.ready:
                    took.setdefault(c.name, now)
            if all(c.ready for c in parts):
                break
            if time.time() > deadline:
                raise TimeoutError([c for c in parts if not c.ready])
            time.sleep(0.1)
        took["usable"] = max(took.values())
        rds = status["parts"].get("rds") or {}
        extra = {"postgres start": rds.get("start_seconds"),
                 "seed (wait + register)": status["parts"]["seed"].get("seconds")}
    finally:
        launcher.stop(state)
    return {"took": took, "progress": marks, "extra": extra,
            "stack_cpu_s": children_cpu() - cpu0, "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ["TRADAI_SIM_MLFLOW_STORE"] = args.store
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        warm_dir = Path(tmp) / "warm"
        one(warm_dir)  # the previous stack whose state dir the warm runs reuse
        for i in range(args.runs):
            runs["cold"].append(one(Path(tmp) / f"cold-{i}"))
            runs["warm"].append(one(warm_dir))
            for kind in runs:
                r = runs[kind][-1]
                print(f"run {i + 1} {kind}: usable {r['took']['usable']:.1f} s, stack CPU "
                      f"{r['stack_cpu_s']:.1f} s, load {r['load']:.1f}", flush=True)
    for kind, mine in runs.items():
        print(f"\n{kind} up (store {args.store}, time scale {TIME_SCALE:g}), median of "
              f"{len(mine)}:")
        for name in mine[0]["took"]:
            print(f"  {name:24s} {statistics.median(r['took'][name] for r in mine):6.1f} s")
        for name in mine[0]["extra"]:
            vals = [r["extra"][name] for r in mine if r["extra"][name] is not None]
            if vals:
                print(f"  ({name}: {statistics.median(vals):.1f} s)")
        print(f"  stack CPU (up + down)    {statistics.median(r['stack_cpu_s'] for r in mine):6.1f}"
              " s")
        print("  cloud progress: " + ", ".join(
            f"{k} {statistics.median(r['progress'].get(k, 0) for r in mine):.1f}"
            for k in mine[0]["progress"]))
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
