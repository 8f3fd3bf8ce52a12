"""The ``/api/v3`` market-data routes as plain functions: query parameters in, JSON out.

Each route has a request weight (computed from its parameters, before serving, so the rate
limiter can refuse it) and a handler. Errors follow Binance: HTTP 400 with
``{"code": -1121, "msg": "Invalid symbol."}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradai_sim.exchange import quotes
from tradai_sim.exchange.intervals import INTERVAL_MS
from tradai_sim.exchange.market import EPOCH_MS, Candles, Market
from tradai_sim.exchange.ratelimit import (
    BINANCE_WEIGHT_PER_MINUTE,
    depth_weight,
    ticker_24hr_weight,
)
from tradai_sim.exchange.symbols import PairSpec, exchange_info_symbol

Params = dict[str, str]

KLINES_DEFAULT_LIMIT, KLINES_MAX_LIMIT = 500, 1000
DEPTH_DEFAULT_LIMIT, DEPTH_MAX_LIMIT = 100, 5000


class ApiError(Exception):
    """A Binance error response."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> ApiError:
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def symbol_spec(market: Market, params: Params) -> PairSpec:
    """The pair a request's ``symbol`` names (-1102 when absent, -1121 when unknown)."""
    market_id = params.get("symbol")
    if not market_id:
        raise mandatory("symbol")
    spec = market.spec_by_id(market_id.upper())
    if spec is None:
        raise ApiError(-1121, "Invalid symbol.")
    return spec


def _int(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        ) from None


@dataclass(frozen=True)
class Route:
    weight: Callable[[Params], int]
    serve: Callable[[Params, int], Any]  # (params, now_ms) -> JSON-able body


class SpotApi:
    """Binance spot public market data over one :class:`Market`."""

    def __init__(
        self, market: Market, weight_limit: Callable[[], int | None] | None = None
    ) -> None:
        self.market = market
        self._weight_limit = weight_limit or (lambda: BINANCE_WEIGHT_PER_MINUTE)
        one = lambda _p: 1  # noqa: E731
        two = lambda _p: 2  # noqa: E731
        many = self._symbols_weight
        self.routes: dict[str, Route] = {
            "/api/v3/ping": Route(one, lambda _p, _now: {}),
            "/api/v3/time": Route(one, lambda _p, now: {"serverTime": now}),
            "/api/v3/exchangeInfo": Route(lambda _p: 20, self.exchange_info),
            "/api/v3/klines": Route(two, self.klines),
            "/api/v3/uiKlines": Route(two, self.klines),
            "/api/v3/depth": Route(self._depth_weight, self.depth),
            "/api/v3/ticker/24hr": Route(
                lambda p: ticker_24hr_weight(self._count_symbols(p)), self.ticker_24hr
            ),
            "/api/v3/ticker/price": Route(many, self._each(quotes.price_ticker)),
            "/api/v3/ticker/bookTicker": Route(many, self._each(quotes.book_ticker)),
            "/api/v3/avgPrice": Route(two, self.avg_price),
        }

    # -- parameters -----------------------------------------------------------------------

    def _symbol(self, params: Params) -> PairSpec:
        return symbol_spec(self.market, params)

    def _symbols(self, params: Params) -> list[PairSpec] | None:
        """``symbol`` -> [one], ``symbols=["A","B"]`` -> several, neither -> None (all)."""
        if "symbol" in params and "symbols" in params:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        if "symbol" in params:
            return [self._symbol(params)]
        if "symbols" not in params:
            return None
        try:
            ids = json.loads(params["symbols"])
        except ValueError:
            ids = None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.")
        specs = [self.market.spec_by_id(i.upper()) for i in ids]
        if any(s is None for s in specs):
            raise ApiError(-1121, "Invalid symbol.")
        return specs  # type: ignore[return-value]

    def _count_symbols(self, params: Params) -> int | None:
        if "symbol" in params:
            return 1
        try:
            ids = json.loads(params.get("symbols", "null"))
        except ValueError:
            return 1
        return len(ids) if isinstance(ids, list) else None

    def _symbols_weight(self, params: Params) -> int:
        return 2 if self._count_symbols(params) == 1 else 4

    def _depth_weight(self, params: Params) -> int:
        try:
            return depth_weight(int(params.get("limit", DEPTH_DEFAULT_LIMIT)))
        except ValueError:
            return 1

    def _all(self) -> list[PairSpec]:
        return list(self.market.specs.values())

    # -- routes ---------------------------------------------------------------------------

    def exchange_info(self, params: Params, now_ms: int) -> dict[str, Any]:
        specs = self._symbols(params) or self._all()
        limit = self._weight_limit()
        return {
            "timezone": "UTC",
            "serverTime": now_ms,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": limit if limit is not None else 1_000_000_000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [exchange_info_symbol(s) for s in specs],
        }

    def kline_window(self, params: Params, now_ms: int) -> tuple[int, int, int]:
        """(interval ms, first open time, count) by Binance's startTime/endTime/limit rules.

        Klines are identified by open time: startTime <= openTime <= endTime, never after now.
        With startTime the first ``limit`` such candles; otherwise the last ``limit``.
        """
        interval = params.get("interval")
        if not interval:
            raise mandatory("interval")
        if interval not in INTERVAL_MS:
            raise ApiError(-1120, "Invalid interval.")
        iv = INTERVAL_MS[interval]
        limit = _int(params, "limit")
        limit = KLINES_DEFAULT_LIMIT if limit is None else limit
        if limit <= 0:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'.")
        limit = min(limit, KLINES_MAX_LIMIT)
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is not None and end is not None and start > end:
            raise ApiError(-1023, "Start time is greater than end time.")
        last_allowed = now_ms if end is None else min(end, now_ms)
        if start is not None:
            first = max(-(-start // iv) * iv, EPOCH_MS)  # first open time >= startTime
            if last_allowed < first:
                return iv, first, 0
            return iv, first, min(limit, (last_allowed - first) // iv + 1)
        last = last_allowed // iv * iv
        if last < EPOCH_MS:
            return iv, EPOCH_MS, 0
        first = max(last - (limit - 1) * iv, EPOCH_MS)
        return iv, first, (last - first) // iv + 1

    def klines(self, params: Params, now_ms: int) -> list[list[Any]]:
        spec = self._symbol(params)
        _iv, first, count = self.kline_window(params, now_ms)
        if count == 0:
            return []
        interval = params["interval"]
        return kline_rows(self.market.candles(spec.symbol, interval, first, count, now_ms))

    def depth(self, params: Params, now_ms: int) -> dict[str, Any]:
        spec = self._symbol(params)
        limit = _int(params, "limit")
        limit = DEPTH_DEFAULT_LIMIT if limit is None else limit
        if limit <= 0:
            raise ApiError(-1100, "Illegal characters found in parameter 'limit'.")
        return quotes.order_book(self.market, spec, now_ms, min(limit, DEPTH_MAX_LIMIT))

    def ticker_24hr(self, params: Params, now_ms: int) -> Any:
        return self._each(quotes.ticker_24hr)(params, now_ms)

    def avg_price(self, params: Params, now_ms: int) -> dict[str, Any]:
        return quotes.avg_price(self.market, self._symbol(params), now_ms)

    def _each(
        self, view: Callable[[Market, PairSpec, int], dict[str, Any]]
    ) -> Callable[[Params, int], Any]:
        """One object for ``symbol``, a list for ``symbols`` or for all (Binance's shapes)."""

        def serve(params: Params, now_ms: int) -> Any:
            specs = self._symbols(params)
            if specs is not None and "symbol" in params:
                return view(self.market, specs[0], now_ms)
            return [view(self.market, s, now_ms) for s in (specs or self._all())]

        return serve


def kline_rows(c: Candles) -> list[list[Any]]:
    """Binance's kline arrays: times as integers, prices and volumes as 8-decimal strings."""
    return [
        [
            t,
            f"{o:.8f}",
            f"{h:.8f}",
            f"{lo:.8f}",
            f"{cl:.8f}",
            f"{v:.8f}",
            t + c.interval_ms - 1,
            f"{qv:.8f}",
            n,
            f"{tb:.8f}",
            f"{tq:.8f}",
            "0",
        ]
        for t, o, h, lo, cl, v, qv, n, tb, tq in zip(
            c.open_time.tolist(),
            c.open.tolist(),
            c.high.tolist(),
            c.low.tolist(),
            c.close.tolist(),
            c.volume.tolist(),
            c.quote_volume.tolist(),
            c.trades.tolist(),
            c.taker_buy_volume.tolist(),
            c.taker_buy_quote_volume.tolist(),
            strict=True,
        )
    ]
