from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tradai_sim import ports
from tradai_sim.drill_cli import DEFAULT_TIME_SCALE
from tradai_sim.stack import launcher


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One stack for the drills (the drills' time scale), taken down at the end."""
    state = tmp_path_factory.mktemp("drill-stack")
    launcher.start(state, ports.free_port(), DEFAULT_TIME_SCALE)
    try:
        yield state
    finally:
        launcher.stop(state)
