"""Checking a strategy config: its shape, then what the exchange lists, then the class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradai.config.schema import FieldError, StrategyConfig, schema_errors
from tradai.services.strategy_service.loader import StrategyLoader
from tradai.services.strategy_service.markets import MarketCatalog


class ConfigValidator:
    def __init__(self, markets: MarketCatalog, loader: StrategyLoader) -> None:
        self.catalog = markets
        self.loader = loader

    def validate(self, config: Mapping[str, Any], prefix: str = "config",
                 source_code: str | None = None) -> list[FieldError]:
        errors = schema_errors(config, prefix)
        if errors:  # the other checks need a well-formed config
            return errors
        cfg = StrategyConfig.model_validate(config)
        errors = self.market_errors(cfg, prefix)
        problem = self.loader.problem(cfg.strategy, config, source_code)
        if problem:
            # A given source is what fails to provide the class; without one, the name does.
            field = "source_code" if source_code is not None else f"{prefix}.strategy"
            errors.append(FieldError(field=field,
                                     reason=f"strategy class {cfg.strategy} does not load: "
                                            f"{problem}"))
        return errors

    def market_errors(self, cfg: StrategyConfig, prefix: str) -> list[FieldError]:
        markets = self.catalog.markets()
        errors = []
        if cfg.exchange.name != markets.exchange:
            errors.append(FieldError(field=f"{prefix}.exchange.name",
                                     reason=f"only {markets.exchange!r} is supported"))
        if cfg.timeframe not in markets.timeframes:
            errors.append(FieldError(
                field=f"{prefix}.timeframe",
                reason=f"{cfg.timeframe!r} is not a timeframe {markets.exchange} offers "
                       f"({', '.join(sorted(markets.timeframes, key=_tf_order))})"))
        for i, pair in enumerate(cfg.exchange.pair_whitelist):
            active = markets.pairs.get(pair)
            if active is None:
                reason = f"{pair} is not a market on {markets.exchange}"
            elif not active:
                reason = f"{pair} is not trading on {markets.exchange} (inactive market)"
            else:
                continue
            errors.append(FieldError(field=f"{prefix}.exchange.pair_whitelist[{i}]",
                                     reason=reason))
        return errors


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000}


def _tf_order(tf: str) -> int:
    try:
        return int(tf[:-1]) * _UNIT_SECONDS[tf[-1]]
    except (ValueError, KeyError):
        return 0
