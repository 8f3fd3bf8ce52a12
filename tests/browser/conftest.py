"""Checks that need a real browser (Chromium from the system's packages): `./dev browser`."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: needs Chromium (a system package)")
