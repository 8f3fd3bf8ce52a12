"""The ``tradai`` CLI as a user runs it, against the local gateway with a Cognito token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.cloud import RunningCloud
from tests.integration.test_edge_gateway import Edge, edge  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def tradai(*args: str, token: str, gateway: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRADAI_API_URL": gateway, "TRADAI_TOKEN": token,
           "XDG_CONFIG_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from tradai.cli.main import main; main()",
                           *args], capture_output=True, text=True, env=env, timeout=60)


def test_cli_lists_submits_and_reads_status(edge: Edge, cloud: RunningCloud,  # noqa: F811
                                            tmp_path: Path) -> None:
    token = edge.user()["access"]
    name = edge.strategy(token)
    run = lambda *a: tradai(*a, token=token, gateway=edge.gateway, home=tmp_path)  # noqa: E731
    listed = run("strategies", "list")
    assert listed.returncode == 0 and name in listed.stdout
    submitted = run("--json", "backtest", "submit", "-s", name, "--pair", "BTC/USDT",
                    "--timerange", "20240101-20240201", "--idempotency-key", "cli-1")
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)["job_id"]
    status = run("--json", "backtest", "status", job)
    assert status.returncode == 0 and json.loads(status.stdout)["job_id"] == job
    bad = run("backtest", "submit", "-s", name, "--timerange", "20240301-20240101")
    assert bad.returncode == 1 and "timerange" in bad.stderr and "inverted" in bad.stderr
    denied = tradai("strategies", "list", token="nope", gateway=edge.gateway, home=tmp_path)
    assert denied.returncode == 1 and "401" in denied.stderr and "malformed" in denied.stderr
