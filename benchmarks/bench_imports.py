"""CPU seconds a fresh process spends importing what the stack's processes import, from the
venv's bytecode and from source (what every start paid before ``./dev`` compiled bytecode:
with ``PYTHONDONTWRITEBYTECODE`` set, nothing is ever cached).

    .venv/bin/python benchmarks/bench_imports.py [--runs 3]

"From source" points ``PYTHONPYCACHEPREFIX`` at an empty folder, so Python finds no bytecode
and compiles each module in memory, as it did before. CPU time is the child's user + system
time (``resource.getrusage(RUSAGE_CHILDREN)``), the median of ``--runs`` processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

MODULES = {
    "strategy container": "tradai.strategy_container.app",
    "Freqtrade backtesting": "freqtrade.optimize.backtesting",
    "MLflow tracking client": "mlflow.tracking",
    "backend API": "tradai.services.backend_api.main",
    "ArcticDB": "arcticdb",
    "pandas": "pandas",
    "boto3": "boto3",
}


def cpu_of_import(module: str, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    base = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    print(f"{'import':<24}{'bytecode':>10}{'source':>10}{'saved':>8}")
    with tempfile.TemporaryDirectory() as empty:
        cold = {**base, "PYTHONPYCACHEPREFIX": empty}
        for label, module in MODULES.items():
            warm_s = statistics.median(cpu_of_import(module, base) for _ in range(args.runs))
            cold_s = statistics.median(cpu_of_import(module, cold) for _ in range(args.runs))
            print(f"{label:<24}{warm_s:>9.2f}s{cold_s:>9.2f}s{cold_s / warm_s:>7.1f}x")


if __name__ == "__main__":
    main()
