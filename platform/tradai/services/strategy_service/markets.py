"""What the exchange lists: markets (pairs) and timeframes, through CCXT, cached.

A catalog is a dependency of the validator so tests (and offline use) can hand in a static
list instead of an exchange.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tradai.config.exchange import ccxt_config


class MarketsUnavailable(RuntimeError):
    """The exchange could not be asked which markets it lists."""


@dataclass(frozen=True)
class Markets:
    exchange: str
    pairs: Mapping[str, bool]  # symbol -> active
    timeframes: frozenset[str]


class MarketCatalog(Protocol):
    def markets(self) -> Markets: ...


class StaticMarketCatalog:
    def __init__(self, pairs: Iterable[str], timeframes: Iterable[str],
                 exchange: str = "binance", inactive: Iterable[str] = ()) -> None:
        off = set(inactive)
        self._markets = Markets(exchange, {p: p not in off for p in [*pairs, *off]},
                                frozenset(timeframes))

    def markets(self) -> Markets:
        return self._markets


class CcxtMarketCatalog:
    """Binance spot markets via CCXT; ``exchange_url`` points CCXT at a compatible server."""

    def __init__(self, exchange_url: str | None, ttl_seconds: float = 300.0,
                 timeout_ms: int = 10_000, egress_proxy: str | None = None) -> None:
        self.exchange_url = exchange_url
        self.egress_proxy = egress_proxy
        self.ttl = ttl_seconds
        self.timeout_ms = timeout_ms
        self._cached: Markets | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def markets(self) -> Markets:
        with self._lock:
            if self._cached is None or time.monotonic() - self._loaded_at > self.ttl:
                self._cached = self._load()
                self._loaded_at = time.monotonic()
            return self._cached

    def _load(self) -> Markets:
        import ccxt

        options: dict[str, Any] = {**ccxt_config(self.exchange_url, self.egress_proxy),
                                   "timeout": self.timeout_ms, "enableRateLimit": False}
        client = ccxt.binance(options)
        try:
            loaded = client.load_markets(reload=True)
        except ccxt.BaseError as exc:
            where = self.exchange_url or "binance"
            raise MarketsUnavailable(f"cannot load markets from {where}: {exc}") from exc
        pairs = {symbol: bool(m.get("active", True)) for symbol, m in loaded.items()
                 if m.get("spot")}
        return Markets("binance", pairs, frozenset(client.timeframes or {}))
