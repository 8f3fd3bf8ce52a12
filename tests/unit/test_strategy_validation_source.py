"""A registered strategy's source is untrusted input: registration refuses, with 422 naming
``source_code``, a source that does not define the named class as a Freqtrade ``IStrategy``
subclass, and nothing reaches the registry (no MLflow version, no S3 config).

Through the strategy service's real app and loader (Freqtrade's StrategyResolver); only the
registry is a recording fake, so the test sees whether anything would have been stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tradai.registry.models import StrategyVersion
from tradai.services.strategy_service.app import create_app
from tradai.services.strategy_service.dependencies import get_registry
from tradai.services.strategy_service.loader import source_problem
from tradai.services.strategy_service.markets import StaticMarketCatalog
from tradai.services.strategy_service.settings import StrategyServiceSettings

GOOD = (Path(__file__).parents[2] / "platform/tradai/strategies/ema_crossover.py").read_text()


class RecordingRegistry:
    def __init__(self) -> None:
        self.registered: list[tuple[str, str]] = []

    def register_version(self, name: str, strategy_class: str, config: dict[str, Any],
                         **kwargs: Any) -> StrategyVersion:
        self.registered.append((name, strategy_class))
        return StrategyVersion(name=name, version=1, timeframe=config["timeframe"],
                               pairs=config["exchange"]["pair_whitelist"], warmup_days=1,
                               config_s3_path=f"s3://configs/{name}/1.json",
                               strategy_class=strategy_class)


@pytest.fixture(scope="module")
def app_and_registry() -> Iterator[tuple[TestClient, RecordingRegistry]]:
    markets = StaticMarketCatalog(["BTC/USDT", "ETH/USDT"], ["5m", "1h"])
    app = create_app(StrategyServiceSettings(mlflow_url=None, configs_bucket=None), markets)
    registry = RecordingRegistry()
    app.dependency_overrides[get_registry] = lambda: registry
    with TestClient(app) as client:
        yield client, registry


def _register(client: TestClient, source: str, cls: str = "MyStrategy") -> Any:
    return client.post("/strategies", json={
        "name": "untrusted", "source_code": source, "warmup_days": 1,
        "config": {"strategy": cls, "timeframe": "5m", "stake_currency": "USDT",
                   "stake_amount": 100,
                   "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]}}})


def _refused(app_and_registry: tuple[TestClient, RecordingRegistry], source: str) -> str:
    client, registry = app_and_registry
    before = list(registry.registered)
    r = _register(client, source)
    assert r.status_code == 422, r.text
    fields = {e["field"]: e["reason"] for e in r.json()["detail"]}
    assert list(fields) == ["source_code"], fields
    assert registry.registered == before  # nothing stored
    return fields["source_code"]


def test_a_module_whose_class_is_a_plain_object_is_refused(app_and_registry):
    reason = _refused(app_and_registry, "class MyStrategy:\n    timeframe = '5m'\n")
    assert "MyStrategy" in reason and "must subclass IStrategy" in reason


def test_a_module_defining_another_class_name_is_refused(app_and_registry):
    reason = _refused(app_and_registry, GOOD)  # defines EmaCrossover, not MyStrategy
    assert "defines no class MyStrategy" in reason and "EmaCrossover" in reason
    assert "must be a class that subclasses IStrategy" in reason


def test_a_class_subclassing_something_else_is_refused(app_and_registry):
    """Has a base, so only the resolver's issubclass check can tell: it runs and refuses."""
    reason = _refused(app_and_registry,
                      "import json\n\n\nclass MyStrategy(json.JSONEncoder):\n    pass\n")
    assert "class MyStrategy must subclass IStrategy" in reason


def test_a_look_alike_istrategy_is_not_freqtrades(app_and_registry):
    reason = _refused(app_and_registry,
                      "class IStrategy:\n    pass\n\n\nclass MyStrategy(IStrategy):\n    pass\n")
    assert "class MyStrategy must subclass IStrategy" in reason


def test_a_source_that_does_not_parse_is_refused_before_it_runs(app_and_registry):
    assert "does not parse: line 1" in _refused(app_and_registry, "class MyStrategy(:\n")


def test_an_istrategy_subclass_of_that_name_is_registered(app_and_registry):
    """The same path accepts a real strategy: the refusals above are the check, not a
    registry that stores nothing."""
    client, registry = app_and_registry
    source = GOOD.replace("class EmaCrossover(", "class MyStrategy(")
    r = _register(client, source)
    assert r.status_code == 201, r.text
    assert registry.registered[-1] == ("untrusted", "MyStrategy")


@pytest.mark.parametrize("source, expected", [
    ("class Other(object):\n    pass\n", "defines no class Foo (its top-level classes: Other)"),
    ("def Foo():\n    pass\n", "defines no class Foo (its top-level classes: none)"),
    ("class Foo:\n    pass\n", "class Foo must subclass IStrategy"),
    ("class Foo(Base):\n    pass\n", None),  # a base: the resolver decides
])
def test_source_problem_reads_without_running(source: str, expected: str | None):
    # A module that would fail if it ran: the static check must not execute it.
    problem = source_problem("Foo", "raise SystemExit('ran')\n" + source)
    assert (problem is None) if expected is None else (expected in (problem or "")), problem
