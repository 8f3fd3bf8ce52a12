"""Orders and trades of the simulated accounts, and their Binance wire shapes.

https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints (new,
cancel; ``newOrderRespType`` ACK / RESULT / FULL) and .../account-endpoints (query order,
open orders, all orders, account trade list). Statuses are Binance's ``NEW``,
``PARTIALLY_FILLED``, ``FILLED``, ``CANCELED``, ``EXPIRED``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from tradai_sim.exchange.accounts import ZERO, amount

NEW, PARTIALLY_FILLED, FILLED = "NEW", "PARTIALLY_FILLED", "FILLED"
CANCELED, EXPIRED = "CANCELED", "EXPIRED"
OPEN_STATUSES = (NEW, PARTIALLY_FILLED)
STP_MODE = "EXPIRE_MAKER"  # the symbols' defaultSelfTradePreventionMode

_DECIMALS = ("price", "orig_qty", "orig_quote_qty", "executed_qty", "cum_quote", "locked")


@dataclass
class Trade:
    """One fill of one order, as ``myTrades`` lists it."""

    id: int
    symbol: str  # Binance id, "BTCUSDT"
    order_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_buyer: bool
    is_maker: bool
    api_key: str = ""

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty

    def view(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "id": self.id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": amount(self.price),
            "qty": amount(self.qty),
            "quoteQty": amount(self.quote_qty),
            "commission": amount(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.is_buyer,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }

    def fill_view(self) -> dict[str, Any]:
        """An entry of a FULL new-order response's ``fills``."""
        return {
            "price": amount(self.price),
            "qty": amount(self.qty),
            "commission": amount(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.id,
        }

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("price", "qty", "commission"):
            d[k] = str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trade:
        d = dict(d)
        for k in ("price", "qty", "commission"):
            d[k] = Decimal(d[k])
        return cls(**d)


@dataclass
class Order:
    order_id: int
    api_key: str
    symbol: str  # Binance id
    client_order_id: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    time_in_force: str  # GTC | IOC | FOK ("GTC" is shown for MARKET, as Binance does)
    price: Decimal  # 0 for MARKET
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time_ms: int
    status: str = NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_ms: int = 0
    locked: Decimal = ZERO  # what this order still holds of the account's locked balance
    checked_ms: int = 0  # the resting order's price path was examined up to here
    trade_ids: list[int] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "price": amount(self.price),
            "origQty": amount(self.orig_qty),
            "executedQty": amount(self.executed_qty),
            "origQuoteOrderQty": amount(self.orig_quote_qty),
            "cummulativeQuoteQty": amount(self.cum_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
        }

    def new_response(self, resp_type: str, now_ms: int, fills: list[Trade]) -> dict[str, Any]:
        out = {**self._common(), "transactTime": now_ms}
        if resp_type == "ACK":
            return out
        out.update(self._state())
        out["workingTime"] = self.time_ms
        out["selfTradePreventionMode"] = STP_MODE
        if resp_type == "FULL":
            out["fills"] = [t.fill_view() for t in fills]
        return out

    def query_view(self) -> dict[str, Any]:
        return {
            **self._common(),
            **self._state(),
            "stopPrice": amount(ZERO),
            "icebergQty": amount(ZERO),
            "time": self.time_ms,
            "updateTime": self.update_ms or self.time_ms,
            "isWorking": True,
            "workingTime": self.time_ms,
            "selfTradePreventionMode": STP_MODE,
        }

    def cancel_view(self, now_ms: int, cancel_client_id: str) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "origClientOrderId": self.client_order_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_client_id,
            "transactTime": now_ms,
            **self._state(),
            "selfTradePreventionMode": STP_MODE,
        }

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in _DECIMALS:
            d[k] = str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Order:
        d = dict(d)
        for k in _DECIMALS:
            d[k] = Decimal(d[k])
        return cls(**d)
