"""The failure playbooks, run end to end by the Chaos Toolkit engine against a real stack.

``./dev test`` runs the headline one (nat-failover); ``tox -e scenarios`` runs them all. A
drill that fails names each invariant that did not hold, with its measured value and deadline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tradai_sim.drills.runner import playbooks, run_drill

HEADLINE = "nat-failover"  # run by the README's test command too
ALL = sorted(playbooks())


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=() if n == HEADLINE else pytest.mark.all_drills) for n in ALL])
def test_drill(name: str, stack: Path, tmp_path: Path) -> None:
    run = run_drill(name, stack, tmp_path / name)
    assert run.summary.ok, f"drill {name} failed: " + "; ".join(run.summary.failures)
    assert (tmp_path / name / "report.html").exists()
    assert (tmp_path / name / "junit.xml").exists()
