from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cloud import RunningCloud, start_cloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One cloud process for the integration suite (time scale 20), stopped at the end."""
    state_dir: Path = tmp_path_factory.mktemp("cloud")
    running = start_cloud(state_dir, time_scale=20.0)
    try:
        yield running
    finally:
        running.stop()
