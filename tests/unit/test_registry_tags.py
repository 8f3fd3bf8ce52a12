"""How strategy versions are stored as MLflow tags and read back."""

from __future__ import annotations

import pytest

from tradai.registry import tags as T
from tradai.registry.models import InvalidStrategyVersion, StrategyNotFound


def test_refs_are_numbers_latest_or_aliases() -> None:
    assert T.parse_ref(3) == ("version", 3)
    assert T.parse_ref(" 12 ") == ("version", 12)
    assert T.parse_ref("latest") == ("latest", None)
    assert T.parse_ref("LATEST") == ("latest", None)
    assert T.parse_ref("champion") == ("alias", "champion")
    for bad in (0, "0", ""):
        with pytest.raises(InvalidStrategyVersion) as exc:
            T.parse_ref(bad)
        assert exc.value.field == "version"


def test_pairs_read_as_json_or_comma_separated() -> None:
    assert T.parse_pairs('["BTC/USDT", "ETH/USDT"]') == ["BTC/USDT", "ETH/USDT"]
    assert T.parse_pairs("BTC/USDT, ETH/USDT,") == ["BTC/USDT", "ETH/USDT"]
    assert T.parse_pairs(T.format_pairs(["SOL/USDT"])) == ["SOL/USDT"]
    with pytest.raises(InvalidStrategyVersion):
        T.parse_pairs("[1, 2]")


def test_tags_round_trip_into_the_contract_model() -> None:
    tags = T.version_tags(timeframe="5m", pairs=["BTC/USDT", "ETH/USDT"], warmup_days=3,
                          strategy_class="EmaCrossover",
                          config_s3_path="s3://c/strategies/Ema/v2/config.json",
                          extra={"origin": "example"})
    v = T.strategy_version("Ema", "2", tags, aliases=["prod", "champion"], run_id="r1",
                           created_ms=1_700_000_000_000)
    assert (v.name, v.version, v.timeframe, v.warmup_days) == ("Ema", 2, "5m", 3)
    assert v.pairs == ["BTC/USDT", "ETH/USDT"]
    assert v.aliases == ["champion", "prod"]
    assert v.created_at == 1_700_000_000.0 and v.run_id == "r1"
    assert v.tags["origin"] == "example"


def test_a_version_without_the_platform_tags_names_what_is_missing() -> None:
    with pytest.raises(StrategyNotFound, match="lacks tag\\(s\\) config_s3_path, "
                                               "strategy_class"):
        T.strategy_version("Ema", 4, {"timeframe": "5m", "pairs": "BTC/USDT",
                                      "warmup_days": "1"})
    with pytest.raises(StrategyNotFound, match="malformed tag"):
        T.strategy_version("Ema", 4, {"timeframe": "5m", "pairs": "BTC/USDT",
                                      "warmup_days": "soon", "config_s3_path": "s3://b/k",
                                      "strategy_class": "X"})


def test_names_and_aliases_are_checked() -> None:
    assert T.check_name("EmaCrossover-2.v1") == "EmaCrossover-2.v1"
    for bad in ("", "a b", "x' OR name='y", "-lead"):
        with pytest.raises(InvalidStrategyVersion):
            T.check_name(bad)
    assert T.check_alias("champion") == "champion"
    for bad in ("latest", "v3", "has space", "3rd"):
        with pytest.raises(InvalidStrategyVersion):
            T.check_alias(bad)
