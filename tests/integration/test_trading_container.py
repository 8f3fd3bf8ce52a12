"""The strategy container as a trading session (dry-run) in the local cloud: warm-up from
ArcticDB, trades on the exchange simulator through the NAT, heartbeats at the simulated
cadence, a hot swap that keeps the open trade, a killed task replaced and resuming its trades.

The session is an ECS service of one task, created here with the calls the platform makes
(``tests/integration/trading.py``); the API path is tested in ``test_trading_sessions.py``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import trading
from tests.integration.cloud import RunningCloud, wait_for
from tradai.strategy_container.trading.session import ALIAS_CHECK_SECONDS
from tradai.trading.records import HEARTBEAT_PERIOD_SECONDS

pytestmark = pytest.mark.integration
START_TIMEOUT = 240  # wall seconds: MLflow, warm-up and Freqtrade's start on a loaded machine


@pytest.fixture(scope="module")
def session(cloud: RunningCloud) -> Iterator[dict[str, Any]]:
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    name, version = trading.register_probe(cloud)
    sid = trading.start_session(cloud, name)
    try:
        yield {"name": name, "sid": sid, "version": version}
    finally:
        trading.stop_session(cloud, sid)
        wait_for(lambda: all(t["last_status"] == "STOPPED"
                             for t in trading.session_tasks(cloud, sid)), timeout=60)


def _beat(cloud: RunningCloud, sid: str, predicate: Any, timeout: float = START_TIMEOUT
          ) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        it = trading.item(cloud, sid)
        return it if it and it.get("last_heartbeat") and predicate(it) else None
    try:
        return dict(wait_for(check, timeout=timeout, interval=0.5))
    except Exception:
        print(trading.item(cloud, sid))
        print(trading.task_log(cloud, sid)[-6000:])
        raise


def _open(it: dict[str, Any]) -> list[int]:
    return [t["trade_id"] for t in it.get("recent_trades") or [] if t["is_open"]]


def test_a_dry_run_session_warms_up_from_arcticdb_and_trades_on_the_simulator(
        cloud: RunningCloud, session: dict[str, Any]) -> None:
    it = _beat(cloud, session["sid"], lambda i: int(i.get("open_trades", 0)) >= 1)
    assert int(it["version"]) == session["version"]
    trade = it["recent_trades"][0]
    assert trade["pair"] == "BTC/USDT" and trade["is_open"] and float(trade["open_rate"]) > 0
    log = trading.task_log(cloud, session["sid"])
    assert "warm-up BTC/USDT 5m:" in log and "candles from ArcticDB" in log
    # The bot's candles are the simulated present: the newest closed 5m candle is at most
    # two candles behind the heartbeat's (simulated) time.
    from datetime import datetime

    last_candle = datetime.fromisoformat(it["last_candle"]).timestamp()
    assert 0 < float(it["last_heartbeat"]) - last_candle <= 2 * 300 + 60


def test_heartbeats_arrive_every_30_simulated_seconds(cloud: RunningCloud,
                                                      session: dict[str, Any]) -> None:
    # (last_heartbeat, heartbeats written): the count tells a beat the container skipped
    # from one this poll missed (a poll slowed by a loaded machine can miss several beats
    # of 1.5 wall seconds each).
    seen: list[tuple[float, int]] = []

    def collect() -> bool:
        it = trading.item(cloud, session["sid"]) or {}
        beat, count = float(it.get("last_heartbeat") or 0), int(it.get("heartbeats") or 0)
        if beat and (not seen or beat != seen[-1][0]):
            seen.append((beat, count))
        return len(seen) >= 6
    wait_for(collect, timeout=START_TIMEOUT, interval=0.1)
    # The first may be partial. Each gap is per beat written in it.
    gaps = [(b - a) / (n - m) for (a, m), (b, n) in itertools.pairwise(seen[1:])]
    assert all(n > m for (_, m), (_, n) in itertools.pairwise(seen)), seen
    # Due every 30 s; each is written after the loop in which it fell due (a 5 s throttle plus
    # the loop), so one written late and the next on time are a little under 30 s apart.
    period = HEARTBEAT_PERIOD_SECONDS
    assert all(period - 8 <= g <= period + 15 for g in gaps), (gaps, seen)
    assert abs(statistics.median(gaps) - HEARTBEAT_PERIOD_SECONDS) <= 6, gaps


def test_moving_the_alias_hot_swaps_the_version_without_losing_the_open_trade(
        cloud: RunningCloud, session: dict[str, Any]) -> None:
    before = _beat(cloud, session["sid"], lambda i: int(i.get("open_trades", 0)) >= 1)
    open_before = _open(before)
    assert open_before
    _, v2 = trading.register_probe(cloud, name=session["name"], variant="v2", alias=None)
    trading.adapter(cloud).set_alias(session["name"], "champion", v2)
    moved_at = float(cloud.status()["simulated_now"])  # at or after the move
    after = _beat(cloud, session["sid"], lambda i: int(i["version"]) == v2)
    # Picked up (the swap decided) within one check period, plus the loops around it. The
    # new bot's start-up that follows is real work, scale-times longer in simulated time.
    took = float(after["version_since"]) - moved_at
    assert took <= ALIAS_CHECK_SECONDS + 2 * HEARTBEAT_PERIOD_SECONDS, took
    assert set(open_before) <= set(_open(after)), (open_before, after["recent_trades"])
    assert "swapping" in trading.task_log(cloud, session["sid"])


def test_a_killed_task_is_replaced_and_resumes_its_open_trades(
        cloud: RunningCloud, session: dict[str, Any]) -> None:
    before = _beat(cloud, session["sid"], lambda i: int(i.get("open_trades", 0)) >= 1)
    open_before = _open(before)
    running = [t for t in trading.session_tasks(cloud, session["sid"])
               if t["last_status"] == "RUNNING"]
    assert len(running) == 1
    # A heartbeat names the ECS task that wrote it (from ECS's task metadata endpoint).
    assert before["task_arn"] == running[0]["task_arn"]
    os.killpg(running[0]["pid"], signal.SIGKILL)
    after = _beat(cloud, session["sid"], lambda i: i.get("task_arn") != before["task_arn"])
    assert after["task_arn"] in {t["task_arn"] for t in trading.session_tasks(cloud,
                                                                              session["sid"])}
    assert set(open_before) <= set(_open(after)), (open_before, after["recent_trades"])
    assert "restored the session's trades" in trading.task_log(cloud, session["sid"])


def _exchange_account(cloud: RunningCloud) -> dict[str, Any]:
    import requests

    secret = json.loads(cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name("exchange-credentials"))["SecretString"])
    url = cloud.status()["resources"]["endpoints"]["exchange"]
    return dict(requests.get(f"{url}/_admin/accounts/{secret['api_key']}", timeout=10).json())


def test_a_live_session_places_and_fills_a_signed_order_on_the_simulator(
        cloud: RunningCloud) -> None:
    """Live: the keys come from Secrets Manager, CCXT signs with them, the simulator's
    matching engine fills the entry (https://developers.binance.com/docs/binance-spot-api-docs/
    rest-api/trading-endpoints)."""
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=240,
             interval=1)
    name, _ = trading.register_probe(cloud)
    sid = trading.start_session(cloud, name, mode="live")
    try:
        it = _beat(cloud, sid, lambda i: int(i.get("open_trades", 0)) >= 1)
        assert it["recent_trades"][0]["is_open"]

        # Freqtrade opens the trade when it places the entry order; the fill (BTC on the
        # account) follows when the simulator matches it: wait for it, not for a loop.
        def bought() -> dict[str, Any] | None:
            account = _exchange_account(cloud)
            btc = [b for b in account["balances"] if b["asset"] == "BTC"]
            return account if btc and float(btc[0]["free"]) + float(btc[0]["locked"]) > 0 \
                else None
        wait_for(bought, timeout=120, interval=1)  # bought for real
    finally:
        trading.stop_session(cloud, sid)


def test_a_live_session_with_a_wrong_secret_is_refused_and_fails_with_the_reason(
        cloud: RunningCloud) -> None:
    sm = cloud.client("secretsmanager")
    secret_id = cloud.name("exchange-credentials")
    good = sm.get_secret_value(SecretId=secret_id)["SecretString"]
    wrong = {**json.loads(good), "api_secret": "0" * 64}
    name, _ = trading.register_probe(cloud)
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(wrong))
    sid = trading.start_session(cloud, name, mode="live")
    try:
        def failed() -> dict[str, Any] | None:
            it = trading.item(cloud, sid)
            return it if it and it.get("error") else None
        it = wait_for(failed, timeout=START_TIMEOUT, interval=0.5)
        assert "refused the session's API keys" in it["error"], it
        assert "Signature for this request is not valid" in it["error"], it
        assert not it.get("open_trades")
    finally:
        sm.put_secret_value(SecretId=secret_id, SecretString=good)
        trading.stop_session(cloud, sid)
