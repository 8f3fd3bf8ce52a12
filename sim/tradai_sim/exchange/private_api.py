"""The signed (TRADE / USER_DATA) routes: account, orders, trades; plus the ``sapi`` calls
CCXT's ``binance`` makes while loading markets once it holds an API key.

Routes are keyed by (method, path); each has a request weight (Binance's, charged by the
rate limiter like the market-data routes) and a handler ``(account, params, now_ms) -> JSON``.
The caller (``app``) has already verified the key, signature and timestamp (``signing``).

Docs: https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints,
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/account-endpoints,
https://developers.binance.com/docs/wallet/capital/all-coins-info,
https://developers.binance.com/docs/margin_trading/market-data (allPairs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tradai_sim.exchange import filters, quotes
from tradai_sim.exchange.accounts import Account, amount
from tradai_sim.exchange.api import ApiError, Params, mandatory, symbol_spec
from tradai_sim.exchange.ledger import COMMISSION_RATE, Ledger, OrderRequest, client_order_id
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.orders import Order
from tradai_sim.exchange.symbols import PairSpec

Handler = Callable[[Account, Params, int], Any]
ORDER_TYPES = ("LIMIT", "MARKET")  # others of exchangeInfo's orderTypes are refused (-1014)
KNOWN_TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
               "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
LIST_DEFAULT, LIST_MAX = 500, 1000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class SignedRoute:
    weight: Callable[[Params], int]
    serve: Handler
    signed: bool = True  # False: the API key alone (Binance's MARKET_DATA security type)


def _illegal(name: str) -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                           "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")


def _decimal(params: Params, name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _illegal(name) from None
    if not value.is_finite() or value < 0:
        raise _illegal(name)
    return value


def _int(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                              "is '^[0-9]{1,20}$'.")
    return int(raw)


def _not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def _limit(params: Params) -> int:
    limit = _int(params, "limit")
    return LIST_DEFAULT if limit is None else max(1, min(limit, LIST_MAX))


class SignedApi:
    def __init__(self, market: Market, ledger: Ledger) -> None:
        self.market = market
        self.ledger = ledger
        const = lambda w: (lambda _p: w)  # noqa: E731
        self.routes: dict[tuple[str, str], SignedRoute] = {
            ("GET", "/api/v3/account"): SignedRoute(const(20), self.account),
            ("POST", "/api/v3/order"): SignedRoute(const(1), self.new_order),
            ("POST", "/api/v3/order/test"): SignedRoute(
                lambda p: 20 if p.get("computeCommissionRates") == "true" else 1,
                self.test_order),
            ("GET", "/api/v3/order"): SignedRoute(const(4), self.query_order),
            ("DELETE", "/api/v3/order"): SignedRoute(const(1), self.cancel_order),
            ("GET", "/api/v3/openOrders"): SignedRoute(
                lambda p: 6 if p.get("symbol") else 80, self.open_orders),
            ("DELETE", "/api/v3/openOrders"): SignedRoute(const(1), self.cancel_open_orders),
            ("GET", "/api/v3/allOrders"): SignedRoute(const(20), self.all_orders),
            ("GET", "/api/v3/myTrades"): SignedRoute(
                lambda p: 5 if p.get("orderId") else 20, self.my_trades),
            ("GET", "/api/v3/account/commission"): SignedRoute(const(20), self.commission),
            ("GET", "/sapi/v1/capital/config/getall"): SignedRoute(const(10), self.coins),
            ("GET", "/sapi/v1/margin/allPairs"): SignedRoute(const(1), self.no_pairs, False),
            ("GET", "/sapi/v1/margin/isolated/allPairs"): SignedRoute(const(10), self.no_pairs),
        }

    # -- parameters -----------------------------------------------------------------------

    def _spec(self, params: Params) -> PairSpec:
        return symbol_spec(self.market, params)

    def order_request(self, params: Params, now_ms: int) -> tuple[OrderRequest, str]:
        """A validated new order (parameters, then filters) and its response type."""
        spec = self._spec(params)
        side = params.get("side")
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise ApiError(-1117, "Invalid side.")
        type_ = params.get("type")
        if not type_:
            raise mandatory("type")
        if type_ not in KNOWN_TYPES:
            raise ApiError(-1116, "Invalid orderType.")
        if type_ not in ORDER_TYPES:
            raise ApiError(-1014, "Unsupported order combination.")
        resp = params.get("newOrderRespType") or "FULL"
        if resp not in RESP_TYPES:
            raise ApiError(-1136, "Invalid newOrderRespType.")
        qty, quote_qty = _decimal(params, "quantity"), _decimal(params, "quoteOrderQty")
        price, tif = _decimal(params, "price"), params.get("timeInForce") or None
        if type_ == "LIMIT":
            for name, value in (("timeInForce", tif), ("quantity", qty), ("price", price)):
                if value is None:
                    raise mandatory(name)
            if tif not in TIME_IN_FORCE:
                raise ApiError(-1115, "Invalid timeInForce.")
            if quote_qty is not None:
                raise _not_required("quoteOrderQty")
            assert price is not None and qty is not None
            filters.check_price(spec, price)
            filters.check_qty(spec, qty, market=False)
            filters.check_notional(spec, price * qty)
        else:
            for name, value in (("price", price), ("timeInForce", tif)):
                if value is not None:
                    raise _not_required(name)
            if qty is None and quote_qty is None:
                raise ApiError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but "
                                      "both were empty/null!")
            if qty is not None and quote_qty is not None:
                raise _not_required("quoteOrderQty")
            if qty is not None:
                filters.check_qty(spec, qty, market=True)
                avg = Decimal(quotes.avg_price(self.market, spec, now_ms)["price"])
                filters.check_notional(spec, qty * avg)
            else:
                assert quote_qty is not None
                filters.check_notional(spec, quote_qty)
        client_id = params.get("newClientOrderId") or client_order_id()
        return OrderRequest(spec, side, type_, tif or "GTC", price, qty, quote_qty,
                            client_id), resp

    def _order_of(self, account: Account, params: Params, missing: ApiError) -> Order:
        spec = self._spec(params)
        order_id = _int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise ApiError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                                  "both were empty/null!")
        order = self.ledger.find(account, spec.market_id, order_id, client_id)
        if order is None:
            raise missing
        return order

    # -- routes ---------------------------------------------------------------------------

    def account(self, account: Account, params: Params, now_ms: int) -> dict[str, Any]:
        rate = amount(COMMISSION_RATE)
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": rate, "taker": rate, "buyer": amount(Decimal(0)),
                                "seller": amount(Decimal(0))},
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": account.update_ms,
            "accountType": "SPOT",
            "balances": account.balances_view(params.get("omitZeroBalances") == "true"),
            "permissions": ["SPOT"],
            "uid": account.uid,
        }

    def commission(self, account: Account, params: Params, now_ms: int) -> dict[str, Any]:
        spec = self._spec(params)
        rate, zero = amount(COMMISSION_RATE), amount(Decimal(0))
        rates = {"maker": rate, "taker": rate, "buyer": zero, "seller": zero}
        return {"symbol": spec.market_id, "standardCommission": rates,
                "specialCommission": {k: zero for k in rates},
                "taxCommission": {k: zero for k in rates},
                "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                             "discountAsset": "BNB", "discount": "0.75000000"}}

    def new_order(self, account: Account, params: Params, now_ms: int) -> dict[str, Any]:
        req, resp = self.order_request(params, now_ms)
        filters.check_open_count(len(self.ledger.orders_of(account, req.spec.market_id, True)))
        order, trades = self.ledger.place(account, req, now_ms)
        return order.new_response(resp, now_ms, trades)

    def test_order(self, account: Account, params: Params, now_ms: int) -> dict[str, Any]:
        """Validates like a new order and places nothing (Binance's ``order/test``)."""
        self.order_request(params, now_ms)
        if params.get("computeCommissionRates") != "true":
            return {}
        rate, zero = amount(COMMISSION_RATE), amount(Decimal(0))
        return {"standardCommissionForOrder": {"maker": rate, "taker": rate},
                "taxCommissionForOrder": {"maker": zero, "taker": zero},
                "discount": {"enabledForAccount": False, "enabledForSymbol": False,
                             "discountAsset": "BNB", "discount": "0.75000000"}}

    def query_order(self, account: Account, params: Params, now_ms: int) -> dict[str, Any]:
        order = self._order_of(account, params, ApiError(-2013, "Order does not exist."))
        return order.query_view()

    def cancel_order(self, account: Account, params: Params, now_ms: int) -> dict[str, Any]:
        order = self._order_of(account, params, ApiError(-2011, "Unknown order sent."))
        self.ledger.cancel(account, order, now_ms)
        return order.cancel_view(now_ms, params.get("newClientOrderId") or client_order_id())

    def open_orders(self, account: Account, params: Params, now_ms: int) -> list[Any]:
        market_id = self._spec(params).market_id if params.get("symbol") else None
        return [o.query_view() for o in self.ledger.orders_of(account, market_id, True)]

    def cancel_open_orders(self, account: Account, params: Params, now_ms: int) -> list[Any]:
        spec = self._spec(params)
        orders = self.ledger.orders_of(account, spec.market_id, open_only=True)
        if not orders:
            raise ApiError(-2011, "Unknown order sent.")
        out = []
        for order in orders:
            self.ledger.cancel(account, order, now_ms)
            out.append(order.cancel_view(now_ms, client_order_id()))
        return out

    def _window(self, params: Params) -> tuple[int | None, int | None]:
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is not None and end is not None:
            if start > end:
                raise ApiError(-1023, "Start time is greater than end time.")
            if end - start > DAY_MS:
                raise ApiError(-1127, "More than 24 hours between startTime and endTime.")
        return start, end

    def all_orders(self, account: Account, params: Params, now_ms: int) -> list[Any]:
        spec = self._spec(params)
        start, end = self._window(params)
        from_id = _int(params, "orderId")
        orders = [o for o in self.ledger.orders_of(account, spec.market_id)
                  if (from_id is None or o.order_id >= from_id)
                  and (start is None or o.time_ms >= start) and (end is None or o.time_ms <= end)]
        limit = _limit(params)
        # From an id or a start time: the first ``limit``; otherwise the most recent ones.
        chosen = orders[:limit] if from_id is not None or start is not None else orders[-limit:]
        return [o.query_view() for o in chosen]

    def my_trades(self, account: Account, params: Params, now_ms: int) -> list[Any]:
        spec = self._spec(params)
        start, end = self._window(params)
        order_id, from_id = _int(params, "orderId"), _int(params, "fromId")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        trades = [t for t in self.ledger.trades_of(account, spec.market_id)
                  if (order_id is None or t.order_id == order_id)
                  and (from_id is None or t.id >= from_id)
                  and (start is None or t.time_ms >= start) and (end is None or t.time_ms <= end)]
        limit = _limit(params)
        chosen = trades[:limit] if from_id is not None or start is not None else trades[-limit:]
        return [t.view() for t in chosen]

    def coins(self, account: Account, params: Params, now_ms: int) -> list[Any]:
        """Every asset of the listed pairs, with the account's balance and one network."""
        assets = sorted({a for s in self.market.specs.values() for a in (s.base, s.quote)})
        return [self._coin(account, a) for a in assets]

    @staticmethod
    def _coin(account: Account, asset: str) -> dict[str, Any]:
        b = account.balances.get(asset)
        free = amount(b.free) if b else "0"
        locked = amount(b.locked) if b else "0"
        network = {
            "network": asset, "coin": asset, "withdrawIntegerMultiple": "0.00000001",
            "isDefault": True, "depositEnable": True, "withdrawEnable": False,
            "depositDesc": "", "withdrawDesc": "Withdrawals are not simulated",
            "specialTips": "", "name": asset, "resetAddressStatus": False,
            "addressRegex": "", "memoRegex": "", "withdrawFee": "0", "withdrawMin": "0",
            "withdrawMax": "0", "minConfirm": 1, "unLockConfirm": 0, "sameAddress": False,
            "estimatedArrivalTime": 1, "busy": False,
        }
        return {"coin": asset, "depositAllEnable": True, "withdrawAllEnable": False,
                "name": asset, "free": free, "locked": locked, "freeze": "0",
                "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
                "isLegalMoney": False, "trading": True, "networkList": [network]}

    def no_pairs(self, account: Account, params: Params, now_ms: int) -> list[Any]:
        """A spot-only exchange: no margin pairs (every symbol has isMarginTradingAllowed
        false in exchangeInfo)."""
        return []
