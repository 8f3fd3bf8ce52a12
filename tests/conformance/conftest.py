"""The AWS conformance suite: one test per AWS behaviour a drill relies on, named after the
behaviour, citing the AWS documentation page it follows in its docstring.

Tests here run against one local cloud process (time scale 20), like the integration suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cloud import RunningCloud, start_cloud


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/conformance/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One cloud process for the conformance suite (time scale 20), stopped at the end."""
    state_dir: Path = tmp_path_factory.mktemp("conformance-cloud")
    running = start_cloud(state_dir, time_scale=20.0)
    try:
        yield running
    finally:
        running.stop()
