"""A finished backtest's ``mlflow_url`` opens in a real browser and shows the run's metrics.

Needs Chromium, a system package, so it is not part of the README's test command (CI's machine
has only what the repository installs). Run it with::

    apt-get install -y chromium        # Debian's package; once
    ./dev browser                      # or: .venv/bin/pytest tests/browser

Headless Chromium, driven over the DevTools protocol (``tests/browser/chromium.py``), opens the
link exactly as the backend gave it, through the gateway's ``/mlflow`` route, with an
operator's MLflow login (what the browser sends after MLflow's basic-auth prompt). The page
must render the run: its name, and the metrics the job reported with their values. A
screenshot of the page is kept (its path is printed; ``TRADAI_BROWSER_SHOTS`` sets the folder).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.chromium import BrowserMissing, executable, open_page
from tests.integration.cloud import RunningCloud
from tests.integration.test_backtests_e2e import SMALL, edge, submit, token, wait_terminal
from tests.integration.test_edge_gateway import Edge
from tradai.registry.credentials import USERS_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.browser]
__all__ = ["edge", "token"]  # module fixtures reused from the end-to-end backtest tests
OPERATOR = "operator@tradai.local"
RENDER_TIMEOUT = 90.0  # wall seconds for MLflow's scripts to fetch and render the run


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    try:
        return executable()
    except BrowserMissing as exc:  # asked for explicitly (./dev browser): say what to do
        pytest.fail(f"{exc}, then run this check again", pytrace=False)


def test_the_run_link_of_a_finished_backtest_renders_its_metrics(
        edge: Edge, token: str, cloud: RunningCloud, tmp_path: Path) -> None:
    job_id = submit(edge, token, SMALL)
    final = wait_terminal(edge, token, job_id)
    assert final["status"] == "COMPLETED", final.get("error")
    link = final["mlflow_url"]
    assert link.startswith(f"{edge.gateway}/mlflow/#/experiments/"), link
    # Without a login MLflow challenges, which is what makes a browser prompt for one.
    challenge = httpx.get(link, timeout=30)
    assert challenge.status_code == 401, challenge.text
    assert challenge.headers["www-authenticate"].startswith("Basic"), challenge.headers
    users: dict[str, Any] = json.loads(cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name(USERS_SECRET))["SecretString"])["users"]
    result = final["result"]
    wanted = [f"backtest-{job_id[:8]}", "total_trades", "profit_total", "max_drawdown"]
    shots = Path(os.environ.get("TRADAI_BROWSER_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    async def look() -> str:
        async with open_page(link, (OPERATOR, users[OPERATOR]), tmp_path / "profile") as page:
            try:
                return await page.wait_for(lambda text: all(w in text for w in wanted),
                                           RENDER_TIMEOUT)
            finally:
                await page.screenshot(shots / "mlflow-run-page.png")
                print(f"screenshot: {shots / 'mlflow-run-page.png'}")

    try:
        text = asyncio.run(look())
    except TimeoutError as exc:  # say what the gateway refused: usually why a page is empty
        log = (cloud.state_dir / "logs" / "gateway.log").read_text(errors="replace")
        refused = [line for line in log.splitlines() if "refused" in line]
        pytest.fail(f"{exc}\ngateway refusals: {refused[-10:]}", pytrace=False)
    # The metrics table: each name followed by its value on the next line.
    lines = text.splitlines()
    shown = {lines[i]: lines[i + 1] for i in range(len(lines) - 1)}
    assert shown["total_trades"] == str(result["total_trades"]), shown.get("total_trades")
