"""Figures for the failure drills: per drill its wall time, the simulated time it represents
and the compression ratio, and the whole suite (stack start included). ``--rounds N`` runs
the suite N times in a row on one stack: how reliable each drill is (passes out of N).

    .venv/bin/python benchmarks/bench_drills.py [--time-scale 10] [--rounds 1] [drill ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import free_port

from tradai_sim.drills.runner import playbooks, run_drill
from tradai_sim.stack import launcher


def run_round(names: list[str], state: Path, reports: Path) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        run = run_drill(name, state, reports / name)
        s = run.summary
        rows.append({"drill": name, "ok": s.ok, "wall_s": round(s.wall_s, 1),
                     "simulated_s": round(s.simulated_s), "ratio": round(s.ratio, 1),
                     "failures": s.failures})
        print(f"{name:18} {'passed' if s.ok else 'FAILED':7} wall {s.wall_s:6.1f} s  "
              f"simulated {s.simulated_s:7.0f} s  ratio {s.ratio:5.1f}x", flush=True)
        for failure in s.failures:
            print(f"    {failure}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-scale", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=1, help="the suite this many times in a row")
    ap.add_argument("drills", nargs="*", help="default: every playbook")
    args = ap.parse_args()
    names = args.drills or sorted(playbooks())
    started = time.perf_counter()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "stack"
        launcher.start(state, free_port(), args.time_scale)
        up = time.perf_counter() - started
        try:
            for n in range(1, args.rounds + 1):
                print(f"-- round {n} of {args.rounds}", flush=True)
                began = time.perf_counter()
                rows = run_round(names, state, Path(tmp) / "reports" / f"round-{n}")
                wall = time.perf_counter() - began
                sim = sum(r["simulated_s"] for r in rows)
                print(f"round {n}: {sum(r['ok'] for r in rows)} of {len(rows)} passed; wall "
                      f"{wall:.1f} s for {sim:.0f} simulated s", flush=True)
                rounds.append({"wall_s": round(wall, 1), "simulated_s": sim, "drills": rows})
        finally:
            launcher.stop(state)
    total = time.perf_counter() - started
    print(f"stack up {up:.1f} s; total wall {total:.1f} s for {len(rounds)} round(s)")
    for name in names:
        runs = [r for rnd in rounds for r in rnd["drills"] if r["drill"] == name]
        walls = [r["wall_s"] for r in runs]
        sims = [r["simulated_s"] for r in runs]
        print(f"{name:18} passed {sum(r['ok'] for r in runs)} of {len(runs)}; median wall "
              f"{statistics.median(walls):6.1f} s, simulated {statistics.median(sims):6.0f} s, "
              f"ratio {statistics.median(sims) / statistics.median(walls):5.1f}x")
    print(json.dumps({"time_scale": args.time_scale, "stack_up_s": round(up, 1),
                      "total_wall_s": round(total, 1), "rounds": rounds}))


if __name__ == "__main__":
    main()
