"""The symbol filters a new order must pass, the ones ``exchangeInfo`` publishes (``symbols``).

https://developers.binance.com/docs/binance-spot-api-docs/filters: PRICE_FILTER (min, max,
tick multiple), LOT_SIZE (min, max, step multiple), MARKET_LOT_SIZE (max of a MARKET order),
NOTIONAL (price x quantity at least ``minNotional``; a MARKET order is valued at the average
price of the last ``avgPriceMins`` minutes), MAX_NUM_ORDERS. A failure is HTTP 400
``{"code": -1013, "msg": "Filter failure: <FILTER>"}``.
"""

from __future__ import annotations

from decimal import Decimal

from tradai_sim.exchange.api import ApiError
from tradai_sim.exchange.matching import dec
from tradai_sim.exchange.symbols import MAX_NUM_ORDERS, PairSpec, max_price


def failure(name: str) -> ApiError:
    return ApiError(-1013, f"Filter failure: {name}")


def _multiple(x: Decimal, step: Decimal) -> bool:
    return (x / step) == (x / step).to_integral_value()


def check_price(spec: PairSpec, price: Decimal) -> None:
    tick = dec(spec.tick)
    if price < tick or price > dec(max_price(spec)) or not _multiple(price, tick):
        raise failure("PRICE_FILTER")


def check_qty(spec: PairSpec, qty: Decimal, market: bool) -> None:
    step = dec(spec.step)
    if qty < step or qty > dec(spec.max_qty) or not _multiple(qty, step):
        raise failure("LOT_SIZE")
    if market and qty > dec(spec.max_qty / 10):
        raise failure("MARKET_LOT_SIZE")


def check_notional(spec: PairSpec, notional: Decimal) -> None:
    if notional < dec(spec.min_notional) or notional > Decimal(9_000_000):
        raise failure("NOTIONAL")


def check_open_count(open_orders: int) -> None:
    if open_orders >= MAX_NUM_ORDERS:
        raise failure("MAX_NUM_ORDERS")
