"""The pair catalogue: trading rules per market and their Binance ``exchangeInfo`` entries.

Numbers are close to Binance's real spot filters so CCXT and Freqtrade derive sensible
precisions (an unrounded or missing tick size makes Freqtrade infer a 1e-9 tick).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

QUOTE_ASSETS = ("USDT", "BTC", "ETH", "BNB", "USDC")

# Binance's per-symbol order types and self-trade-prevention modes (constant across spot).
ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"]
MAX_NUM_ORDERS = 200  # open orders per symbol and account (MAX_NUM_ORDERS filter)


@dataclass(frozen=True)
class PairSpec:
    """One spot market: its trading rules and the parameters of its synthetic price path."""

    symbol: str  # unified, "BTC/USDT"
    start_price: float  # price at the market's epoch
    tick: float  # PRICE_FILTER tickSize
    step: float  # LOT_SIZE stepSize (also minQty)
    min_notional: float  # NOTIONAL minNotional, in the quote asset
    annual_vol: float  # long-run annualised volatility of log returns
    daily_quote_volume: float  # typical traded value per day, in the quote asset
    max_qty: float = 9_000_000.0

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def market_id(self) -> str:
        """Binance's symbol id, "BTCUSDT"."""
        return self.base + self.quote

    @property
    def key(self) -> int:
        """A stable number for seeding: independent of the order pairs are listed in."""
        return zlib.crc32(self.symbol.encode())

    @property
    def price_decimals(self) -> int:
        return decimals(self.tick)


CATALOGUE: dict[str, PairSpec] = {
    s.symbol: s
    for s in [
        PairSpec("BTC/USDT", 60_000.0, 0.01, 0.00001, 5.0, 0.55, 1.5e9, 9000.0),
        PairSpec("ETH/USDT", 3_000.0, 0.01, 0.0001, 5.0, 0.70, 8.0e8, 9000.0),
        PairSpec("SOL/USDT", 150.0, 0.01, 0.001, 5.0, 0.90, 3.0e8, 90_000.0),
        PairSpec("BNB/USDT", 600.0, 0.01, 0.001, 5.0, 0.60, 1.0e8, 90_000.0),
        PairSpec("XRP/USDT", 0.6, 0.0001, 0.1, 5.0, 0.85, 1.5e8, 9_000_000.0),
        PairSpec("ADA/USDT", 0.45, 0.0001, 0.1, 5.0, 0.85, 6.0e7, 9_000_000.0),
        PairSpec("DOGE/USDT", 0.12, 0.00001, 1.0, 5.0, 1.00, 1.0e8, 9_000_000.0),
        PairSpec("LTC/USDT", 80.0, 0.01, 0.001, 5.0, 0.75, 4.0e7, 90_000.0),
        PairSpec("LINK/USDT", 15.0, 0.01, 0.01, 5.0, 0.85, 4.0e7, 90_000.0),
        PairSpec("AVAX/USDT", 30.0, 0.01, 0.01, 5.0, 0.95, 4.0e7, 90_000.0),
        PairSpec("ETH/BTC", 0.05, 0.00001, 0.0001, 0.0001, 0.45, 2.0e3, 100_000.0),
        PairSpec("BNB/BTC", 0.01, 0.000001, 0.001, 0.0001, 0.45, 3.0e2, 100_000.0),
    ]
}

DEFAULT_PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ETH/BTC"]


def decimals(x: float) -> int:
    """Decimal places of a power-of-ten size such as 0.001 -> 3 (0 for sizes >= 1)."""
    return max(0, -Decimal(repr(x)).normalize().as_tuple().exponent)  # type: ignore[operator]


def spec_for(symbol: str) -> PairSpec:
    """The catalogue entry, or plausible generated rules for a pair it does not list."""
    if symbol in CATALOGUE:
        return CATALOGUE[symbol]
    if "/" not in symbol:
        raise ValueError(f"pair must look like BASE/QUOTE, got {symbol!r}")
    h = zlib.crc32(symbol.encode())
    # Log-uniform start price between 0.01 and 1000 (quote units), deterministic per name.
    price = 10 ** (-2 + 5 * ((h % 10_000) / 10_000))
    tick = 10.0 ** (math.floor(math.log10(price)) - 4)
    step = 10.0 ** min(2, max(-5, -math.floor(math.log10(5.0 / price)) - 1))
    quote = symbol.split("/")[1]
    min_notional = 5.0 if quote in ("USDT", "USDC") else 0.0001
    return PairSpec(
        symbol, price, tick, step, min_notional, 0.8, 5.0e7 if min_notional == 5.0 else 1.0e3
    )


def fmt(x: float, places: int = 8) -> str:
    """Binance prints amounts as fixed-point strings with 8 decimals."""
    return f"{x:.{places}f}"


def max_price(spec: PairSpec) -> float:
    """PRICE_FILTER maxPrice."""
    return spec.tick * 1e8 if spec.tick < 1 else 1e9


def exchange_info_symbol(spec: PairSpec) -> dict[str, Any]:
    """One entry of ``exchangeInfo.symbols`` in Binance's spot shape (fields CCXT reads)."""
    return {
        "symbol": spec.market_id,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(spec.tick),
                "maxPrice": fmt(max_price(spec)),
                "tickSize": fmt(spec.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(spec.step),
                "maxQty": fmt(spec.max_qty),
                "stepSize": fmt(spec.step),
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(0.0),
                "maxQty": fmt(spec.max_qty / 10),
                "stepSize": fmt(0.0),
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(spec.min_notional),
                "applyMinToMarket": True,
                "maxNotional": fmt(9_000_000.0),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": MAX_NUM_ORDERS},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": ["SPOT"],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": STP_MODES,
    }
