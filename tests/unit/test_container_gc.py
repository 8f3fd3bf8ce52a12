"""The strategy container, and the strategy service, set up their process as Freqtrade's own
entrypoint does.

``freqtrade.main`` raises the garbage collector's thresholds (``gc_set_threshold``) before a
command imports and runs anything. The container runs Freqtrade as a library, so it must do
the same itself, before its heavy imports: with Python's defaults a 2-pair, 90-day task spent
about a second more in full collections than the CLI (benchmarks/bench_gc_thresholds.py).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

# Records the collector's thresholds at the moment the container's app module is first
# imported (the heavy imports start there), then lets the import go on.
PROBE = """
import gc, sys

class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == "tradai.strategy_container.app":
            print("THRESHOLDS", gc.get_threshold(), flush=True)
        return None

sys.meta_path.insert(0, Probe())
import runpy
runpy.run_module("tradai.strategy_container", run_name="__main__")
"""

PYTHON_DEFAULTS = (700, 10, 10)  # CPython 3.11's gc.get_threshold() at start

FREQTRADE_THRESHOLDS = """
import gc
from freqtrade.system.gc_setup import gc_set_threshold
gc_set_threshold()
print(gc.get_threshold())
"""


def _python(code: str, tmp_path: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRADAI_", "TRADING_", "AWS_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(tmp_path))


def _freqtrades_thresholds(tmp_path: object) -> tuple[int, int, int]:
    """What Freqtrade's ``gc_set_threshold()`` sets, read in a process of its own."""
    expected = ast.literal_eval(_python(FREQTRADE_THRESHOLDS, tmp_path).stdout.strip())
    assert expected != PYTHON_DEFAULTS, \
        "Freqtrade's thresholds equal Python's defaults: this test would prove nothing"
    return expected


def _probed(run: subprocess.CompletedProcess[str], missing: str) -> tuple[int, int, int]:
    """The thresholds a probe printed (its first ``THRESHOLDS`` line)."""
    lines = [line for line in run.stdout.splitlines() if line.startswith("THRESHOLDS")]
    assert lines, f"{missing}: {run.stdout!r}"
    return ast.literal_eval(lines[0].removeprefix("THRESHOLDS "))


def test_the_container_sets_freqtrades_gc_thresholds_before_its_heavy_imports(tmp_path):
    expected = _freqtrades_thresholds(tmp_path)
    # No job in the environment: the container imports its app, then fails the job (exit 2).
    run = _python(PROBE, tmp_path)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "TRADAI_JOB_ID is not set" in run.stderr
    assert _probed(run, "the app module was never imported") == expected


SERVICE_PROBE = """
import gc, types
import uvicorn
from tradai.services.strategy_service import main as service

loader = types.SimpleNamespace(warm_up=lambda: None)
service.create_app = lambda settings: types.SimpleNamespace(
    state=types.SimpleNamespace(loader=loader))
service.StrategyServiceSettings = lambda: types.SimpleNamespace(host="127.0.0.1", port=1)
uvicorn.run = lambda *a, **k: print("THRESHOLDS", gc.get_threshold(), flush=True)
service.main()
"""


def test_the_strategy_service_runs_freqtrade_with_its_gc_thresholds(tmp_path):
    """The service runs trial backtests in its own process: it sets the collector up as
    Freqtrade's entrypoint does before it serves."""
    expected = _freqtrades_thresholds(tmp_path)
    run = _python(SERVICE_PROBE, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert _probed(run, "the service never started serving") == expected
