"""The strategy service against the real pieces: MLflow (the session's ECS task), the cloud's
S3, and an exchange simulator process for the markets.

The service runs as a subprocess on a free port with the task environment it gets in ECS;
the ECS task itself is checked for health too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, free_port, wait_for
from tests.integration.test_mlflow_registry import mlflow_url, seeded  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration
PAIRS = "BTC/USDT,ETH/USDT,SOL/USDT,ETH/BTC"


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def exchange_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("exchange")
    ready = tmp / "ready.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADAI_")}
    proc = _spawn([sys.executable, "-m", "tradai_sim.exchange", "--port", "0", "--seed", "7",
                   "--pairs", PAIRS, "--ready-file", str(ready)], env, tmp / "exchange.log")
    try:
        wait_for(lambda: ready.exists() and ready.read_text(), timeout=30)
        yield str(json.loads(ready.read_text())["url"])
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def service(cloud: RunningCloud, mlflow_url: str, exchange_url: str,  # noqa: F811
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRADAI_"))}
    env.update({"AWS_ENDPOINT_URL": cloud.endpoint, "AWS_DEFAULT_REGION": cloud.region,
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "PORT": str(port), "TRADAI_MLFLOW_URL": mlflow_url,
                "TRADAI_BUCKET_CONFIGS": cloud.name("configs"),
                "TRADAI_EXCHANGE_URL": exchange_url})
    log = tmp_path_factory.mktemp("strategy-service") / "service.log"
    proc = _spawn([sys.executable, "-m", "tradai.services.strategy_service"], env, log)
    url = f"http://127.0.0.1:{port}"

    def warm() -> bool:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            return requests.get(f"{url}/health", timeout=2).json()["freqtrade"] == "ready"
        except requests.RequestException:
            return False

    try:
        # Freqtrade warms in the background: 60 s was not enough with the full suite on 2 cores
        wait_for(warm, timeout=180, interval=0.2)
        yield url
    finally:
        _stop(proc)


def cfg(**change: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"strategy": "EmaCrossover", "timeframe": "5m",
                              "stake_currency": "USDT", "max_open_trades": 2,
                              "exchange": {"name": "binance",
                                           "pair_whitelist": ["BTC/USDT", "ETH/USDT"]}}
    config.update(change)
    return config


def fields(r: requests.Response) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {e["field"]: e["reason"] for e in r.json()["detail"]}


def test_the_ecs_task_answers_health(cloud: RunningCloud) -> None:
    group = f"service:{cloud.name('strategy-service')}"

    def healthy() -> bool:
        for t in cloud.control("/ecs/tasks")["tasks"]:
            if t["group"] == group and t["last_status"] == "RUNNING" and t.get("port"):
                with contextlib.suppress(requests.RequestException):
                    url = f"http://127.0.0.1:{t['port']}/health"
                    return requests.get(url, timeout=2).json()["status"] == "ok"
        return False

    wait_for(healthy, timeout=60, interval=0.5)


def test_validate_a_good_config(service: str) -> None:
    r = requests.post(f"{service}/validate", json={"config": cfg()}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "XRP/USDT"]}},
     "config.exchange.pair_whitelist[1]", "not a market"),
    ({"timeframe": "7m"}, "config.timeframe", "not a timeframe"),
    ({"strategy": "NotAStrategy"}, "config.strategy", "does not load"),
])
def test_validate_names_the_bad_field(service: str, change: dict[str, Any], field: str,
                                      words: str) -> None:
    got = fields(requests.post(f"{service}/validate", json={"config": cfg(**change)},
                               timeout=30))
    assert words in got[field], got


def test_prepare_merges_base_s3_config_and_overrides(service: str,
                                                     seeded: dict[str, Any],  # noqa: F811
                                                     exchange_url: str) -> None:
    r = requests.post(f"{service}/configs/prepare", json={
        "strategy": "RsiBollingerReversion", "version": "champion",
        "overrides": {"max_open_trades": 1, "dry_run_wallet": 500}}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    config = body["config"]
    assert body["strategy_class"] == config["strategy"] == "RsiBollingerReversion"
    assert config["max_open_trades"] == 1  # override > S3 (3) > base (3)
    assert config["dry_run_wallet"] == 500
    assert config["exchange"]["pair_whitelist"] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]  # S3
    assert config["stake_amount"] == 50  # S3 > base (100)
    assert config["entry_pricing"]["price_side"] == "other"  # base only
    assert config["exchange"]["ccxt_config"]["urls"]["api"]["public"] == \
        f"{exchange_url}/api/v3"


def test_prepare_unknown_strategy_or_alias_is_404(service: str,
                                                  seeded: dict[str, Any]) -> None:  # noqa: F811
    r = requests.post(f"{service}/configs/prepare", json={"strategy": "Nope"}, timeout=30)
    assert r.status_code == 404 and "'Nope' not found" in r.json()["detail"]
    r = requests.post(f"{service}/configs/prepare",
                      json={"strategy": "EmaCrossover", "version": "ghost"}, timeout=30)
    assert r.status_code == 404 and "no alias 'ghost'" in r.json()["detail"]
    r = requests.post(f"{service}/configs/prepare",
                      json={"strategy": "EmaCrossover", "version": 0}, timeout=30)
    assert fields(r)["version"]


SOURCE = (Path(__file__).parents[2] / "platform/tradai/strategies/ema_crossover.py").read_text()


def test_register_a_new_strategy_then_prepare_it(service: str) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    source = SOURCE.replace("class EmaCrossover(", "class FastEma(").replace(
        "fast_period = 12", "fast_period = 6")
    r = requests.post(f"{service}/strategies", json={
        "name": name, "config": cfg(strategy="FastEma"), "source_code": source,
        "aliases": ["challenger"], "warmup_days": 1}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["aliases"] == ["challenger"]
    r = requests.post(f"{service}/configs/prepare",
                      json={"strategy": name, "version": 1}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["strategy"] == "FastEma"
    detail = requests.get(f"{service}/strategies/{name}", timeout=30).json()
    assert detail["aliases"] == {"challenger": 1}


def test_register_refuses_bad_input_by_field(service: str) -> None:
    bad_pair = cfg(exchange={"name": "binance", "pair_whitelist": ["NOPE/USDT"]})
    got = fields(requests.post(f"{service}/strategies", json={
        "name": "whatever", "config": bad_pair}, timeout=30))
    assert "config.exchange.pair_whitelist[0]" in got
    got = fields(requests.post(f"{service}/strategies", json={
        "name": "bad name!", "config": cfg()}, timeout=30))
    assert "name" in got
    got = fields(requests.post(f"{service}/strategies", json={
        "name": "x", "config": cfg(), "aliases": ["latest"]}, timeout=30))
    assert "aliases" in got
