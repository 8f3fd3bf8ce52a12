"""Config merging: deep merge semantics and ConfigMergeService's layers and checks."""

from __future__ import annotations

from typing import Any

import pytest

from tradai.config.merge import deep_merge
from tradai.config.service import ConfigInvalid, ConfigMergeService, base_config
from tradai.registry.models import StrategyVersion


def test_later_layers_win_and_mappings_merge_recursively() -> None:
    base = {"a": 1, "exchange": {"name": "binance", "key": "", "ccxt_config": {"x": 1}}}
    layer = {"a": 2, "exchange": {"key": "k", "ccxt_config": {"y": 2}}}
    assert deep_merge(base, layer) == {
        "a": 2, "exchange": {"name": "binance", "key": "k", "ccxt_config": {"x": 1, "y": 2}}}


def test_lists_are_replaced_not_concatenated() -> None:
    merged = deep_merge({"pairs": ["BTC/USDT", "ETH/USDT"]}, {"pairs": ["SOL/USDT"]})
    assert merged == {"pairs": ["SOL/USDT"]}


def test_none_removes_a_key_and_inputs_are_not_mutated() -> None:
    base = {"keep": 1, "drop": {"deep": 1}, "nested": {"a": 1, "b": 2}}
    over = {"drop": None, "nested": {"b": None}}
    assert deep_merge(base, over, None) == {"keep": 1, "nested": {"a": 1}}
    assert base == {"keep": 1, "drop": {"deep": 1}, "nested": {"a": 1, "b": 2}}
    merged = deep_merge(base)
    merged["nested"]["a"] = 99
    assert base["nested"]["a"] == 1


def test_base_config_points_ccxt_at_the_configured_exchange() -> None:
    cfg = base_config("http://127.0.0.1:9100/")
    ccxt = cfg["exchange"]["ccxt_config"]
    assert ccxt["urls"]["api"]["public"] == "http://127.0.0.1:9100/api/v3"
    assert ccxt["options"] == {"fetchMarkets": {"types": ["spot"]}}
    assert cfg["exchange"]["enable_ws"] is False
    assert "urls" not in base_config(None)["exchange"]["ccxt_config"]  # Binance itself


class FakeStore:
    def __init__(self, configs: dict[str, dict[str, Any]]) -> None:
        self.configs = configs

    def get(self, path: str) -> dict[str, Any]:
        return self.configs[path]


VERSION = StrategyVersion(name="Ema", version=3, timeframe="5m", pairs=["BTC/USDT"],
                          warmup_days=2, config_s3_path="s3://b/strategies/Ema/v3/config.json",
                          strategy_class="EmaCrossover")
STRATEGY_CONFIG = {"timeframe": "5m", "max_open_trades": 2,
                   "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"]}}


def service() -> ConfigMergeService:
    return ConfigMergeService(FakeStore({VERSION.config_s3_path: STRATEGY_CONFIG}),  # type: ignore[arg-type]
                              base_config("http://x:1"))


def test_prepare_layers_base_then_version_then_overrides() -> None:
    cfg = service().prepare(VERSION, {"max_open_trades": 5, "dry_run_wallet": 50})
    assert cfg["strategy"] == "EmaCrossover"  # pinned by the version
    assert cfg["max_open_trades"] == 5  # override > version (2) > base (3)
    assert cfg["dry_run_wallet"] == 50
    assert cfg["exchange"]["pair_whitelist"] == ["BTC/USDT", "ETH/USDT"]  # version > base []
    assert cfg["exchange"]["ccxt_config"]["urls"]["api"]["public"] == "http://x:1/api/v3"
    assert cfg["entry_pricing"]["price_side"] == "other"  # from the base only


def test_overrides_cannot_swap_the_strategy_class() -> None:
    with pytest.raises(ConfigInvalid) as exc:
        service().prepare(VERSION, {"strategy": "Other"})
    assert exc.value.errors[0].field == "overrides.strategy"


def test_an_invalid_merged_config_names_the_field() -> None:
    with pytest.raises(ConfigInvalid) as exc:
        service().prepare(VERSION, {"timeframe": "7x", "exchange": {"pair_whitelist": []}})
    fields = {e.field for e in exc.value.errors}
    assert fields == {"timeframe", "exchange.pair_whitelist"}
