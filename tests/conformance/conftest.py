"""The AWS conformance suite: one test per AWS behaviour a drill relies on, named after the
behaviour, citing the AWS documentation page it follows in its docstring.

Tests here use the ``cloud`` fixture of ``tests/conftest.py``: the cloud process (time scale 20)
the integration suite shares.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/conformance/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.conformance)
