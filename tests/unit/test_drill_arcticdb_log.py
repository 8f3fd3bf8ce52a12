"""A drill's own ArcticDB reads log to the stack's log folder, not the drill's console: the
demo's console showed ArcticDB's "Failed to find segment for key ..." once, from a check that
met a version the data service had just pruned and read again on a fresh connection."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import arcticdb.log

    from tradai.clock import Clock
    from tradai_sim.drills.accounting import _arcticdb_log_to_file
    from tradai_sim.drills.context import DrillContext

    state_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    _arcticdb_log_to_file(DrillContext(target="local", region="eu-central-1", env="local",
                                       run_id="r", clock=Clock(), state_dir=state_dir))
    arcticdb.log.storage.warn("Failed to find segment for key probe")
""")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True,
                          text=True, timeout=120, check=True)


def test_arcticdb_warnings_go_to_the_stacks_log_folder(tmp_path: Path) -> None:
    done = run(str(tmp_path))
    assert "probe" not in done.stdout + done.stderr
    log = (tmp_path / "logs" / "arcticdb-drills.log").read_text()
    assert "W arcticdb.storage | Failed to find segment for key probe" in log


def test_without_a_state_dir_arcticdb_logs_as_it_does_by_default() -> None:
    """The check above can fail: ArcticDB's default puts the warning on the console."""
    done = run()
    assert "Failed to find segment for key probe" in done.stdout + done.stderr
