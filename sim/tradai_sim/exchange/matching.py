"""The matching engine's pure parts: walking the synthetic book, and when a resting order's
limit was crossed by the market's price path.

The book is the one ``depth`` serves (``quotes.order_book``), rebuilt from the market every
second: an order takes liquidity from it but does not consume it for the next request (the
synthetic market is not moved by the simulated account's orders).

A resting (unfilled) limit order fills as maker, at its limit price, for its whole remaining
quantity, at the first instant the price path reaches the limit (low <= price for a buy,
high >= price for a sell), from the minute after the one it was placed in (the placement
minute's candle also holds prices from before the order existed). The verdict and its time
depend only on the price path, never on when the engine looks, so they are the same however
often clients poll (evaluation is lazy: on each signed request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import numpy as np

from tradai_sim.exchange import quotes
from tradai_sim.exchange.intervals import MINUTE_MS
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.symbols import PairSpec, fmt

BOOK_LEVELS = (100, 5000)  # try the top 100 levels first; 5000 is Binance's deepest depth


@dataclass(frozen=True)
class Fill:
    price: Decimal
    qty: Decimal


def dec(x: float) -> Decimal:
    """A catalogue size (0.01) as the exact Decimal it stands for."""
    return Decimal(fmt(x)).normalize()


def floor_to(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(rounding=ROUND_DOWN) * step


def book_side(
    market: Market, spec: PairSpec, now_ms: int, side: str, levels: int
) -> list[tuple[Decimal, Decimal]]:
    """The levels a taker on ``side`` trades against: asks for a BUY, bids for a SELL."""
    book = quotes.order_book(market, spec, now_ms, levels)
    rows = book["asks"] if side == "BUY" else book["bids"]
    return [(Decimal(p), Decimal(q)) for p, q in rows]


def _beyond(side: str, price: Decimal, limit: Decimal | None) -> bool:
    if limit is None:
        return False
    return price > limit if side == "BUY" else price < limit


def walk(
    levels: list[tuple[Decimal, Decimal]],
    side: str,
    step: Decimal,
    qty: Decimal | None = None,
    quote_qty: Decimal | None = None,
    limit: Decimal | None = None,
) -> list[Fill]:
    """Take levels best first until ``qty`` (base) or ``quote_qty`` (quote) is reached, or
    the next level is beyond ``limit``. One fill per level touched."""
    fills: list[Fill] = []
    got, spent = Decimal(0), Decimal(0)
    for price, size in levels:
        if _beyond(side, price, limit):
            break
        if qty is not None:
            take = min(size, qty - got)
        else:
            assert quote_qty is not None
            take = floor_to(min(size, (quote_qty - spent) / price), step)
        if take <= 0:
            break
        fills.append(Fill(price, take))
        got += take
        spent += take * price
        if qty is not None and got >= qty:
            break
    return fills


def take(
    market: Market,
    spec: PairSpec,
    now_ms: int,
    side: str,
    qty: Decimal | None = None,
    quote_qty: Decimal | None = None,
    limit: Decimal | None = None,
) -> list[Fill]:
    """Fills of a taker order against the book at ``now_ms`` (deepening the book if needed)."""
    step = dec(spec.step)
    fills: list[Fill] = []
    for depth in BOOK_LEVELS:
        levels = book_side(market, spec, now_ms, side, depth)
        fills = walk(levels, side, step, qty, quote_qty, limit)
        if len(fills) < len(levels):  # stopped inside the book: deeper levels change nothing
            break
    return fills


def crossing_time(
    market: Market,
    spec: PairSpec,
    side: str,
    price: Decimal,
    placed_ms: int,
    since_ms: int,
    now_ms: int,
) -> int | None:
    """When the price path first reached ``price``, looking at minutes after the placement
    minute from the one holding ``since_ms`` up to ``now_ms``; None if it has not yet.

    Within a minute the candle forms as ``_reveal`` shows it: the low moves from the open
    towards the minute's low in proportion to the time elapsed (``o - f (o - l)``), the high
    likewise, so the instant is ``open + f* x 60 s`` with ``f*`` the fraction at which the
    limit is reached, never later than ``now_ms``.
    """
    first = max(placed_ms // MINUTE_MS + 1, since_ms // MINUTE_MS)
    last = now_ms // MINUTE_MS
    if last < first:
        return None
    m = market.minutes(spec.symbol, first, last - first + 1)
    target = float(price) / spec.tick  # in ticks
    o = m.o.astype(float)
    reach, need = (o - m.l, o - target) if side == "BUY" else (m.h - o, target - o)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(need <= 0, 0.0, np.where(reach > 0, need / reach, np.inf))
    formed = np.ones(len(frac))
    formed[-1] = (now_ms - last * MINUTE_MS) / MINUTE_MS  # the current minute, so far
    where = (frac <= formed).nonzero()[0]
    if not len(where):
        return None
    i = int(where[0])
    return (first + i) * MINUTE_MS + math.ceil(float(frac[i]) * MINUTE_MS)
