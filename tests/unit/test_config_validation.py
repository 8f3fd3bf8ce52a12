"""The strategy service's validation against a static market list (no exchange needed):
good config OK; unknown pair, unsupported timeframe, unloadable class -> 422 naming the field.
The strategy class check is real: Freqtrade's StrategyResolver over tradai/strategies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tradai.services.strategy_service.app import create_app
from tradai.services.strategy_service.markets import StaticMarketCatalog
from tradai.services.strategy_service.settings import StrategyServiceSettings

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "ETH/BTC"]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    markets = StaticMarketCatalog(PAIRS, ["1m", "5m", "15m", "1h", "1d"],
                                  inactive=["LUNA/USDT"])
    app = create_app(StrategyServiceSettings(mlflow_url=None, configs_bucket=None), markets)
    with TestClient(app) as c:
        yield c


def config(**change: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"strategy": "EmaCrossover", "timeframe": "5m",
                           "stake_currency": "USDT", "stake_amount": 100,
                           "exchange": {"name": "binance",
                                        "pair_whitelist": ["BTC/USDT", "ETH/USDT"]}}
    cfg.update(change)
    return cfg


def fields(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {e["field"]: e["reason"] for e in r.json()["detail"]}


def test_a_good_config_is_valid(client: TestClient) -> None:
    r = client.post("/validate", json={"config": config()})
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "strategy": "EmaCrossover", "timeframe": "5m",
                        "pairs": ["BTC/USDT", "ETH/USDT"]}
    r = client.post("/validate", json={"config": config(strategy="RsiBollingerReversion")})
    assert r.status_code == 200, r.text


def test_unknown_and_inactive_pairs_are_named(client: TestClient) -> None:
    r = client.post("/validate", json={"config": config(exchange={
        "name": "binance", "pair_whitelist": ["BTC/USDT", "DOGE/USDT", "LUNA/USDT"]})})
    got = fields(r)
    assert "DOGE/USDT is not a market on binance" in got["config.exchange.pair_whitelist[1]"]
    assert "inactive" in got["config.exchange.pair_whitelist[2]"]
    assert "config.exchange.pair_whitelist[0]" not in got


def test_unsupported_or_malformed_timeframes_are_named(client: TestClient) -> None:
    assert "not a timeframe binance offers" in fields(
        client.post("/validate", json={"config": config(timeframe="7m")}))["config.timeframe"]
    assert "config.timeframe" in fields(
        client.post("/validate", json={"config": config(timeframe="soon")}))


def test_a_class_that_does_not_load_is_named(client: TestClient) -> None:
    got = fields(client.post("/validate", json={"config": config(strategy="NoSuchStrategy")}))
    assert "does not load" in got["config.strategy"]


def test_malformed_bodies_are_422_never_500(client: TestClient) -> None:
    assert "config" in fields(client.post("/validate", json={}))
    assert fields(client.post("/validate", content=b"{not json",
                              headers={"content-type": "application/json"}))
    assert "config.exchange" in fields(client.post("/validate", json={"config": {
        "strategy": "EmaCrossover", "timeframe": "5m"}}))


def test_registry_routes_without_mlflow_say_what_is_missing(client: TestClient) -> None:
    r = client.post("/configs/prepare", json={"strategy": "EmaCrossover"})
    assert r.status_code == 503 and "TRADAI_BUCKET_CONFIGS" in r.json()["detail"]


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/validate", "/configs/prepare", "/strategies"} <= set(paths)
    assert "422" in paths["/validate"]["post"]["responses"]
    assert client.get("/health").json()["status"] == "ok"
