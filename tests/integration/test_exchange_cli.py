"""The exchange CLI: start-up flags (faults, NAT header), simulated time, clean SIGTERM stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

NAT = "X-Tradai-Nat"


@pytest.fixture()
def dilated_exchange(tmp_path: Path) -> Iterator[str]:
    """An exchange at time scale 3600 (one simulated hour per wall second), NAT-only."""
    ready = tmp_path / "ready.json"
    env = {**os.environ, "TRADAI_TIME_SCALE": "3600", "TRADAI_CLOCK_ORIGIN": repr(time.time())}
    cmd = [
        sys.executable,
        "-m",
        "tradai_sim.exchange",
        "--port",
        "0",
        "--seed",
        "3",
        "--pairs",
        "BTC/USDT",
        "--require-header",
        NAT,
        "--error-burst",
        "502:1",
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.05)
        yield json.loads(ready.read_text())["url"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_cli_flags_nat_header_and_dilated_time(dilated_exchange: str) -> None:
    url = dilated_exchange
    via = {NAT: "nat-1a"}
    # Without the NAT's mark: refused, and not counted against the error burst.
    assert requests.get(f"{url}/api/v3/time", timeout=5).status_code == 403
    assert requests.get(f"{url}/api/v3/time", headers=via, timeout=5).status_code == 502
    t1 = requests.get(f"{url}/api/v3/time", headers=via, timeout=5).json()["serverTime"]
    time.sleep(0.5)
    t2 = requests.get(f"{url}/api/v3/time", headers=via, timeout=5).json()["serverTime"]
    assert 1_000_000 < t2 - t1 < 5_000_000  # ~0.5 wall s = ~30 simulated minutes
    # Candles advance in simulated time: the newest 1m candle opens at simulated now.
    rows = requests.get(
        f"{url}/api/v3/klines",
        params={"symbol": "BTCUSDT", "interval": "1m", "limit": 2},
        headers=via,
        timeout=5,
    ).json()
    assert rows[-1][0] >= t2 - t2 % 60_000  # fetched after t2: at or past its minute
    stats = requests.get(f"{url}/_admin/stats", timeout=5).json()
    assert stats["via"] == {"nat-1a": 4}
    assert stats["statuses"] == {"403": 1, "502": 1, "200": 3}
