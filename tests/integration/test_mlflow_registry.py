"""The MLflow service as `up` runs it (an ECS service task) and the registry on top of it.

One MLflow per session: the cloud fixture's ECS service. Its startup (10-30 s) is paid once,
in the ``mlflow_url`` fixture, which the strategy service tests share.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.registry.models import StrategyNotFound
from tradai.registry.seed import seed

pytestmark = pytest.mark.integration
MLFLOW_START_TIMEOUT = 120.0


def mlflow_task(cloud: RunningCloud) -> dict[str, Any] | None:
    group = f"service:{cloud.name('mlflow')}"
    tasks = cloud.control("/ecs/tasks")["tasks"]
    return next((t for t in tasks if t["group"] == group and t["last_status"] == "RUNNING"
                 and t.get("port")), None)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def mlflow_url(cloud: RunningCloud) -> str:
    """The MLflow task's URL once it answers (the cloud stops it, process group included)."""
    def ready() -> str | None:
        task = mlflow_task(cloud)
        url = f"http://127.0.0.1:{task['port']}" if task else None
        return url if url and _healthy(url) else None

    return str(wait_for(ready, timeout=MLFLOW_START_TIMEOUT, interval=0.5))


@pytest.fixture(scope="session")
def seeded(cloud: RunningCloud, mlflow_url: str) -> dict[str, Any]:
    """The seed part's report once it has registered the examples."""
    def done() -> dict[str, Any] | None:
        status = cloud.status()["parts"].get("seed", {})
        assert status.get("state") != "failed", status
        return status if status.get("state") == "done" else None

    return dict(wait_for(done, timeout=60, interval=0.5))


@pytest.fixture(scope="module")
def adapter(cloud: RunningCloud, mlflow_url: str) -> MLflowAdapter:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    return MLflowAdapter(mlflow_url, ConfigStore(cloud.client("s3"), cloud.name("configs")))


def config(pairs: list[str], timeframe: str = "5m") -> dict[str, Any]:
    return {"strategy": "EmaCrossover", "timeframe": timeframe, "stake_currency": "USDT",
            "exchange": {"name": "binance", "pair_whitelist": pairs}}


def test_mlflow_runs_as_one_process_and_is_published(cloud: RunningCloud,
                                                     mlflow_url: str) -> None:
    task = mlflow_task(cloud)
    assert task is not None
    # The task's process serves MLflow itself (one worker): no `mlflow server` CLI spawning a
    # second interpreter that imports MLflow again (tradai.services.mlflow_server.serve).
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    group = [p for p in pids if _pgid(p) == task["pid"]]
    assert group == [task["pid"]], group
    endpoints = wait_for(lambda: cloud.status()["resources"].get("endpoints", {}).get("mlflow"),
                         timeout=10)
    assert _healthy(endpoints)


def test_up_registers_the_examples(seeded: dict[str, Any], adapter: MLflowAdapter) -> None:
    names = {r["name"] for r in seeded["registered"]}
    assert {"EmaCrossover", "RsiBollingerReversion"} <= names
    listed = {s.name: s for s in adapter.list_strategies()}
    for name in ("EmaCrossover", "RsiBollingerReversion"):
        assert "champion" in listed[name].aliases
        v = adapter.get_model_version(name, "champion")
        assert v.strategy_class == name and v.timeframe == "5m" and v.pairs
        assert v.config_s3_path.startswith("s3://tradai-local-configs/strategies/")
        assert adapter.load_config(v)["strategy"] == name


def test_seeding_again_registers_nothing(seeded: dict[str, Any],
                                         adapter: MLflowAdapter) -> None:
    before = {r["name"]: r["version"] for r in seeded["registered"]}
    again = seed(adapter)
    assert all(not r.registered for r in again)
    assert {r.name: r.version for r in again} == before


def test_register_then_resolve_by_alias_number_and_latest(adapter: MLflowAdapter) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    v1 = adapter.register_version(name, "EmaCrossover", config(["BTC/USDT"]), warmup_days=2,
                                  source_code="# v1\n", aliases=["champion"])
    v2 = adapter.register_version(name, "EmaCrossover", config(["BTC/USDT", "ETH/USDT"]),
                                  description="second")
    assert (v1.version, v2.version) == (1, 2)
    assert v2.config_s3_path == f"s3://tradai-local-configs/strategies/{name}/v2/config.json"
    adapter.set_alias(name, "challenger", 2)

    champion = adapter.get_model_version(name, "champion")
    assert champion.version == 1 and champion.aliases == ["champion"]
    assert champion.pairs == ["BTC/USDT"] and champion.warmup_days == 2
    assert adapter.get_model_version(name, "2").pairs == ["BTC/USDT", "ETH/USDT"]
    assert adapter.get_model_version(name, 2).aliases == ["challenger"]
    assert adapter.get_model_version(name, "latest").version == 2
    assert adapter.load_config(champion)["exchange"]["pair_whitelist"] == ["BTC/USDT"]

    detail = adapter.get_strategy(name)
    assert detail.latest_version == 2
    assert detail.aliases == {"champion": 1, "challenger": 2}
    assert [(v.version, v.aliases) for v in detail.versions] == [(1, ["champion"]),
                                                                 (2, ["challenger"])]
    assert name in {s.name for s in adapter.list_strategies()}


def test_missing_things_are_named(adapter: MLflowAdapter) -> None:
    with pytest.raises(StrategyNotFound, match="strategy 'NoSuchStrategy' not found"):
        adapter.get_model_version("NoSuchStrategy", "champion")
    with pytest.raises(StrategyNotFound, match="has no alias 'nonexistent'"):
        adapter.get_model_version("EmaCrossover", "nonexistent")
    with pytest.raises(StrategyNotFound, match="has no version 999"):
        adapter.get_model_version("EmaCrossover", 999)
    with pytest.raises(StrategyNotFound, match="not found"):
        adapter.get_strategy("NoSuchStrategy")


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
