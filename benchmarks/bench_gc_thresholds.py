"""What Python's default garbage-collector thresholds cost a backtest task.

``freqtrade.main`` raises the collector's thresholds (``gc_set_threshold``) before a command
imports anything; the strategy container runs Freqtrade as a library and did not, so its
imports and backtest ran under Python's defaults. This runs what a task runs (the container's
imports, Freqtrade's configuration, ``Backtesting.start`` on EmaCrossover, 2 pairs x 90 days
of 5m) in a fresh process, alternating Python's defaults and Freqtrade's thresholds, and
prints per process: wall and CPU seconds, and the seconds and count of collections per
generation (``gc.callbacks``).

    .venv/bin/python benchmarks/bench_gc_thresholds.py [--endpoint http://127.0.0.1:PORT]
        [--rounds N]

The candles come from the stack's ArcticDB (a warm backtest through the platform stores them
first); without ``--endpoint`` a local cloud is started and stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_backtests_e2e as e2e  # noqa: E402

from tests.integration.test_edge_gateway import Edge  # noqa: E402

# One task's work in a fresh interpreter; argv: inputs folder, "default" or "freqtrade".
TASK = r"""
import gc, json, os, sys, time
wall0, cpu0 = time.perf_counter(), time.process_time()
if sys.argv[2] == "freqtrade":
    from freqtrade.system.gc_setup import gc_set_threshold
    gc_set_threshold()
seconds, counts, began = [0.0, 0.0, 0.0], [0, 0, 0], [0.0]
def timed(phase, info):
    if phase == "start":
        began[0] = time.perf_counter()
    else:
        seconds[info["generation"]] += time.perf_counter() - began[0]
        counts[info["generation"]] += 1
gc.callbacks.append(timed)
import tradai.strategy_container.app  # the container's own imports
from freqtrade.commands.optimize_commands import setup_optimize_configuration
from freqtrade.enums import RunMode
from freqtrade.optimize.backtesting import Backtesting
folder = sys.argv[1]
config = setup_optimize_configuration(
    {"config": [folder + "/config.json"], "user_data_dir": folder + "/user_data",
     "datadir": folder + "/data"}, RunMode.BACKTEST)
Backtesting(config, progress_callback=lambda *_: None).start()  # no bars, as in a task
print(json.dumps({"thresholds": gc.get_threshold(),
                  "wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
                  "gc_s": seconds, "collections": counts}))
sys.stdout.flush()
os._exit(0)
"""


def one(folder: Path, mode: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", TASK, str(folder), mode], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "thresholds": runs[0]["thresholds"],
        "wall_s": [round(r["wall_s"], 2) for r in runs],
        "cpu_s": [round(r["cpu_s"], 2) for r in runs],
        "gc_s_median": round(statistics.median(sum(r["gc_s"]) for r in runs), 3),
        "gc_s_by_generation": [round(x, 3) for x in runs[len(runs) // 2]["gc_s"]],
        "collections_by_generation": runs[len(runs) // 2]["collections"],
        "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", help="a running local cloud (else one is started)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    cloud = e2e.open_stack(args.endpoint, tmp)
    try:
        edge = Edge(cloud)
        e2e.run_one(edge, edge.user()["access"], e2e.BODY)  # the candles into ArcticDB
        e2e.write_inputs(e2e.data_store(cloud), cloud, tmp)
        runs: dict[str, list[dict[str, Any]]] = {"default": [], "freqtrade": []}
        for _ in range(max(1, args.rounds)):
            for mode in runs:  # alternating, so the machine's drift meets both alike
                runs[mode].append(one(tmp, mode))
        print(json.dumps({mode: summary(r) for mode, r in runs.items()}, indent=2))
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
