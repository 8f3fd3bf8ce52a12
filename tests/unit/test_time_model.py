"""The README's time table is the time model the local cloud applies, row for row."""

from __future__ import annotations

from pathlib import Path

from tradai_sim.cloud.time_model import TIME_MODEL

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### Time: what is simulated and what is wall time"


def _readme_rows() -> list[tuple[str, str, str]]:
    lines = README.read_text().splitlines()
    start = lines.index(HEADING)
    table = []
    for line in lines[start:]:
        if line.startswith("| ") and not line.startswith("| duration |"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            table.append((cells[0], cells[1], cells[2]))
        elif table and not line.startswith("|"):
            break
    return table


def test_the_readme_table_is_the_time_model() -> None:
    assert _readme_rows() == [(d.what, d.clock, d.why) for d in TIME_MODEL]


def test_every_duration_is_either_simulated_or_wall() -> None:
    assert {d.clock for d in TIME_MODEL} == {"simulated", "wall"}
    assert len({d.what for d in TIME_MODEL}) == len(TIME_MODEL)
