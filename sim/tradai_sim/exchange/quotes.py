"""Live views of the market at an instant: 24h ticker, best prices, order book, average price.

All derived from the candles (so a ticker agrees with the klines a client fetched) plus a
synthetic book around the live price, seeded per (pair, second): deterministic, and it moves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tradai_sim.exchange.intervals import MINUTE_MS
from tradai_sim.exchange.market import DAY_MINUTES, Market
from tradai_sim.exchange.symbols import PairSpec, fmt

BOOK_SALT = 0xB00C


def best_prices(market: Market, spec: PairSpec, now_ms: int) -> tuple[int, int]:
    """(bid, ask) in ticks: the last trade sits on the bid, the ask one tick above."""
    last = market.last_price_ticks(spec.symbol, now_ms)
    return last, last + 1


def _level_sizes(market: Market, spec: PairSpec, now_ms: int, n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([market.seed, spec.key, BOOK_SALT, now_ms // 1000]))
    )
    gaps = rng.choice(np.array([1, 1, 1, 2, 3]), size=(2, n))
    gaps[:, 0] = 0
    depth = 1.0 + np.arange(n) / 25.0  # deeper levels hold more
    size = rng.lognormal(0.0, 0.6, size=(2, n)) * depth
    return np.cumsum(gaps, axis=1), size


def order_book(market: Market, spec: PairSpec, now_ms: int, limit: int) -> dict[str, Any]:
    bid, ask = best_prices(market, spec, now_ms)
    offsets, size = _level_sizes(market, spec, now_ms, limit)
    price = bid * spec.tick
    # Top levels worth a few minutes of typical traded value at the current price.
    unit_steps = spec.daily_quote_volume / DAY_MINUTES / 40.0 / max(price, 1e-12) / spec.step
    qty = np.maximum(np.rint(size * unit_steps), 1) * spec.step
    bid_ticks = bid - offsets[0]
    keep = bid_ticks >= 1
    bids = [
        [fmt(t * spec.tick), fmt(q)] for t, q in zip(bid_ticks[keep], qty[0][keep], strict=True)
    ]
    asks = [[fmt(t * spec.tick), fmt(q)] for t, q in zip(ask + offsets[1], qty[1], strict=True)]
    return {"lastUpdateId": now_ms // 100, "bids": bids, "asks": asks}


def book_ticker(market: Market, spec: PairSpec, now_ms: int) -> dict[str, Any]:
    book = order_book(market, spec, now_ms, 1)
    return {
        "symbol": spec.market_id,
        "bidPrice": book["bids"][0][0],
        "bidQty": book["bids"][0][1],
        "askPrice": book["asks"][0][0],
        "askQty": book["asks"][0][1],
    }


def price_ticker(market: Market, spec: PairSpec, now_ms: int) -> dict[str, Any]:
    last = market.last_price_ticks(spec.symbol, now_ms)
    return {"symbol": spec.market_id, "price": fmt(last * spec.tick)}


def ticker_24hr(market: Market, spec: PairSpec, now_ms: int) -> dict[str, Any]:
    """Binance's rolling 24h statistics: the last 1440 minutes, the current one partial."""
    now_min = now_ms // MINUTE_MS
    first = (now_min - DAY_MINUTES + 1) * MINUTE_MS
    c = market.candles(spec.symbol, "1m", first, DAY_MINUTES, now_ms)
    prev = market.candles(spec.symbol, "1m", first - MINUTE_MS, 1, now_ms)
    last = float(c.close[-1])
    open_ = float(c.open[0])
    volume = float(c.volume.sum())
    quote_volume = float(c.quote_volume.sum())
    count = int(c.trades.sum())
    book = book_ticker(market, spec, now_ms)
    last_id = now_ms // 10  # monotonic trade ids
    return {
        "symbol": spec.market_id,
        "priceChange": fmt(last - open_),
        "priceChangePercent": f"{(last / open_ - 1) * 100:.3f}",
        "weightedAvgPrice": fmt(quote_volume / volume if volume else last),
        "prevClosePrice": fmt(float(prev.close[0]) if len(prev) else open_),
        "lastPrice": fmt(last),
        "lastQty": fmt(spec.step * max(1, int(c.volume[-1] / spec.step) // 40)),
        "bidPrice": book["bidPrice"],
        "bidQty": book["bidQty"],
        "askPrice": book["askPrice"],
        "askQty": book["askQty"],
        "openPrice": fmt(open_),
        "highPrice": fmt(float(c.high.max())),
        "lowPrice": fmt(float(c.low.min())),
        "volume": fmt(volume),
        "quoteVolume": fmt(quote_volume),
        "openTime": int(c.open_time[0]),
        "closeTime": now_ms,
        "firstId": last_id - count + 1,
        "lastId": last_id,
        "count": count,
    }


def avg_price(market: Market, spec: PairSpec, now_ms: int) -> dict[str, Any]:
    """Volume-weighted price of the last 5 minutes (Binance's ``avgPrice``)."""
    now_min = now_ms // MINUTE_MS
    c = market.candles(spec.symbol, "1m", (now_min - 4) * MINUTE_MS, 5, now_ms)
    vol = float(c.volume.sum())
    price = float(c.quote_volume.sum()) / vol if vol else float(c.close[-1])
    decimals = spec.price_decimals
    return {"mins": 5, "price": fmt(round(price, decimals)), "closeTime": now_ms}
