from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cloud import RunningCloud, start_cloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    """One cloud process per test worker (time scale 20) for the conformance and integration
    suites, stopped at the end: an idle cloud still runs its control loops, so two per worker
    would slow every other test."""
    state_dir: Path = tmp_path_factory.mktemp("cloud")
    running = start_cloud(state_dir, time_scale=20.0)
    # Tests talk to the stack's MLflow as its services do: with the basic-auth secret.
    creds = json.loads(running.client("secretsmanager").get_secret_value(
        SecretId=running.name("mlflow-basic-auth"))["SecretString"])
    # Undone at the end: later suites (the drills) start stacks of their own.
    with pytest.MonkeyPatch.context() as mp:
        for key, value in (("MLFLOW_TRACKING_USERNAME", creds["username"]),
                           ("MLFLOW_TRACKING_PASSWORD", creds["password"])):
            if key not in os.environ:
                mp.setenv(key, value)
        try:
            yield running
        finally:
            running.stop()
