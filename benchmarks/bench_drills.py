"""Figures for the failure drills: per drill its wall time, the simulated time it represents
and the compression ratio, and the whole suite (stack start included).

    .venv/bin/python benchmarks/bench_drills.py [--time-scale 10] [drill ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import free_port

from tradai_sim.drills.runner import playbooks, run_drill
from tradai_sim.stack import launcher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-scale", type=float, default=10.0)
    ap.add_argument("drills", nargs="*", help="default: every playbook")
    args = ap.parse_args()
    names = args.drills or sorted(playbooks())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "stack"
        launcher.start(state, free_port(), args.time_scale)
        up = time.perf_counter() - started
        rows = []
        try:
            for name in names:
                run = run_drill(name, state, Path(tmp) / "reports" / name)
                s = run.summary
                rows.append({"drill": name, "ok": s.ok, "wall_s": round(s.wall_s, 1),
                             "simulated_s": round(s.simulated_s), "ratio": round(s.ratio, 1),
                             "failures": s.failures})
                print(f"{name:18} {'passed' if s.ok else 'FAILED':7} wall {s.wall_s:6.1f} s  "
                      f"simulated {s.simulated_s:7.0f} s  ratio {s.ratio:5.1f}x", flush=True)
        finally:
            launcher.stop(state)
    total = time.perf_counter() - started
    sim = sum(r["simulated_s"] for r in rows)
    print(f"suite: {len(rows)} drills, {sum(r['ok'] for r in rows)} passed; stack up "
          f"{up:.1f} s; total wall {total:.1f} s for {sim:.0f} simulated s")
    print(json.dumps({"time_scale": args.time_scale, "stack_up_s": round(up, 1),
                      "total_wall_s": round(total, 1), "drills": rows}))


if __name__ == "__main__":
    main()
