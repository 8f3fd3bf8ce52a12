"""``tradai-sim up`` to usable (issue 15: at most 20 s): wall seconds from ``launcher.start`` to
the cloud ready, to each service ready as ``up`` judges it (``tradai_sim.stack.readiness``:
running, and healthy behind the ALB where load-balanced) and to the example strategies
registered; cold (a fresh state dir) and warm (the state dir of a previous stack: PostgreSQL's
data, hence MLflow's tables and the registered examples, are kept).

    .venv/bin/python benchmarks/bench_up.py [--runs 3] [--store postgres] [--json out.json]

Each run also reports CPU seconds spent until usable (from ``/proc``: the cloud process, every
process of the stack, and what they reaped), in all and by the MLflow task's process group; a
loaded machine distorts them less than wall time.
Each cold run (fresh dir) is followed by a warm one in its dir. The readiness poll here is
0.1 s (the CLI's is its own): the figures are when each part became ready, not when ``up``
noticed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
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


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(parent, process group, CPU seconds incl. reaped children) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    ppid, pgid = int(fields[1]), int(fields[2])
    return ppid, pgid, sum(int(x) for x in fields[11:15]) / TICKS  # utime stime cutime cstime


def stack_cpu(cloud_pid: int, state: Path, mlflow_pid: int | None) -> dict[str, float]:
    """CPU seconds of the cloud and its processes (descendants, and the process groups it
    registered: PostgreSQL detaches from pg_ctl), and of the MLflow task's group."""
    stats = {p: s for p in (int(d) for d in os.listdir("/proc") if d.isdigit())
             if (s := _stat(p)) is not None}
    registered = state / "children.pids"
    roots = {cloud_pid} | ({int(x) for x in registered.read_text().split()}
                           if registered.exists() else set())

    def in_stack(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid in roots or stats.get(pid, (0, 0, 0))[1] in roots:
                return True
            pid, seen = stats.get(pid, (0, 0, 0))[0], seen + 1
        return False

    mine = {p: s for p, s in stats.items() if in_stack(p)}
    out = {"total": sum(s[2] for s in mine.values()),
           "mlflow": sum(s[2] for s in mine.values() if s[1] == mlflow_pid)}
    for pid, s in mine.items():
        label = "by " + _label(pid)
        out[label] = out.get(label, 0.0) + s[2]
    return out


MLFLOW_MARKS = (("configured", "starting MLflow on"),  # main's imports, settings, secret
                ("MLflow imported", "mlflow.store.db.utils"),  # cold: tables being created
                ("app built", "MLflow app ready"),  # migrations, auth tables, the app
                ("serving", "Uvicorn running on"))


def mlflow_marks(task: dict[str, Any], started: float) -> dict[str, float]:
    """Seconds from ``up`` to the MLflow task's start and to each mark in its log."""
    out: dict[str, float] = {}
    try:
        fields = Path(f"/proc/{task['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text()
                    .splitlines() if line.startswith("btime"))
        out["task process started"] = boot + int(fields[19]) / TICKS - started
        lines = Path(task["log"]).read_text(errors="replace").splitlines()
    except (OSError, StopIteration, KeyError):
        return out
    for name, needle in MLFLOW_MARKS:
        line = next((x for x in lines if needle in x), None)
        if line is None:
            continue
        for fmt, width in (("%Y-%m-%d %H:%M:%S,%f", 23), ("%Y/%m/%d %H:%M:%S", 19)):
            try:
                at = datetime.datetime.strptime(line[:width], fmt).timestamp()
            except ValueError:
                continue
            out[name] = at - started
            break
    return out


def _label(pid: int) -> str:
    """The module a Python process runs (``-m x``), else the program's name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return "?"
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1]
    return Path(argv[0]).name


def one(state: Path) -> dict[str, Any]:
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
        mlflow_task = next((t for t in status["parts"]["ecs"]["tasks"]
                            if t["group"].endswith("-mlflow") and t["last_status"] == "RUNNING"),
                           {})
        cpu = stack_cpu(rec.pid, state, mlflow_task.get("pid"))
        extra.update({f"MLflow task: {k}": v for k, v in mlflow_marks(mlflow_task, started)
                      .items()})
    finally:
        launcher.stop(state)
    return {"took": took, "progress": marks, "extra": extra,
            "cpu_s": cpu, "load": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ["TRADAI_SIM_MLFLOW_STORE"] = args.store
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        for i in range(args.runs):
            state = Path(tmp) / f"state-{i}"
            # cold: a fresh state dir; warm: the same dir again (PostgreSQL's data kept)
            for kind in ("cold", "warm"):
                r = one(state)
                runs[kind].append(r)
                print(f"run {i + 1} {kind}: usable {r['took']['usable']:.1f} s, CPU to usable "
                      f"{r['cpu_s']['total']:.1f} s (MLflow task {r['cpu_s']['mlflow']:.1f} s),"
                      f" load {r['load']:.1f}", flush=True)
    for kind, mine in runs.items():
        print(f"\n{kind} up (store {args.store}, time scale {TIME_SCALE:g}), median of "
              f"{len(mine)}:")
        for name in mine[0]["took"]:
            print(f"  {name:24s} {statistics.median(r['took'][name] for r in mine):6.1f} s")
        for name in dict.fromkeys(k for r in mine for k in r["extra"]):
            vals = [r["extra"][name] for r in mine if r["extra"].get(name) is not None]
            if vals:
                print(f"  ({name}: {statistics.median(vals):.1f} s)")
        for k in ("total", "mlflow"):
            print(f"  CPU to usable, {k:9s} {statistics.median(r['cpu_s'][k] for r in mine):6.1f}"
                  " s")
        labels = {k for r in mine for k in r["cpu_s"] if k.startswith("by ")}
        top = sorted(labels, key=lambda k: -statistics.median(r["cpu_s"].get(k, 0) for r in mine))
        print("  CPU to usable " + ", ".join(
            f"{k} {statistics.median(r['cpu_s'].get(k, 0) for r in mine):.1f}" for k in top[:10]))
        print("  cloud progress: " + ", ".join(
            f"{k} {statistics.median(r['progress'].get(k, 0) for r in mine):.1f}"
            for k in mine[0]["progress"]))
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
