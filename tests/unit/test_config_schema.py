"""The platform's Freqtrade config subset: errors name the field and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from tradai.config.schema import StrategyConfig, field_path, schema_errors


def good() -> dict[str, Any]:
    return {"strategy": "EmaCrossover", "timeframe": "5m", "stake_currency": "USDT",
            "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"]},
            "some_freqtrade_setting": {"kept": True}}


def test_a_good_config_parses_and_keeps_unknown_keys() -> None:
    assert schema_errors(good()) == []
    cfg = StrategyConfig.model_validate(good())
    assert cfg.model_dump(exclude_unset=True)["some_freqtrade_setting"] == {"kept": True}


@pytest.mark.parametrize(("change", "field"), [
    ({"timeframe": "five"}, "config.timeframe"),
    ({"strategy": "Evil:aW1wb3J0IG9z"}, "config.strategy"),  # inline-source form refused
    ({"stake_amount": -1}, "config.stake_amount"),
    ({"max_open_trades": -2}, "config.max_open_trades"),
    ({"stoploss": 0.1}, "config.stoploss"),
    ({"trading_mode": "futures"}, "config.trading_mode"),
    ({"exchange": {"pair_whitelist": ["BTCUSDT"]}}, "config.exchange.pair_whitelist[0]"),
    ({"exchange": {"pair_whitelist": []}}, "config.exchange.pair_whitelist"),
    ({"exchange": {"pair_whitelist": ["ETH/BTC"]}}, "config.exchange.pair_whitelist"),
])
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    errors = schema_errors({**good(), **change}, prefix="config")
    assert field in {e.field for e in errors}, errors


def test_missing_sections_are_named() -> None:
    cfg = good()
    del cfg["exchange"]
    assert [e.field for e in schema_errors(cfg)] == ["exchange"]
    assert schema_errors([1, 2])[0].field == "config"


def test_field_path_formats_indexes() -> None:
    assert field_path(("exchange", "pair_whitelist", 1)) == "exchange.pair_whitelist[1]"
    assert field_path(()) == ""
