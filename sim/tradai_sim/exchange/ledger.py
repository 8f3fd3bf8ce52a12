"""The exchange's books of record: accounts, orders, trades; order placement and settlement.

Thread-safe (one lock: the HTTP server serves requests from many threads). With a state file,
every change is written to it (atomically: a temporary file then a rename), and a new ledger
on the same file resumes where the last one stopped: keys, balances, open orders, history.

Commission is Binance's default 0.1% for maker and taker, charged in the asset the trade pays
the account: the base asset on a buy, the quote asset on a sell
(https://www.binance.com/en/fee/schedule; the ``commission`` and ``commissionAsset`` of each
fill and trade).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tradai_sim.exchange import matching
from tradai_sim.exchange.accounts import (
    EIGHT,
    ZERO,
    Account,
    BalanceError,
    new_key_pair,
)
from tradai_sim.exchange.api import ApiError
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.orders import (
    CANCELED,
    EXPIRED,
    FILLED,
    NEW,
    PARTIALLY_FILLED,
    Order,
    Trade,
)
from tradai_sim.exchange.symbols import PairSpec

COMMISSION_RATE = Decimal("0.001")  # maker and taker
STATE_VERSION = 1


def insufficient() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


@dataclass(frozen=True)
class OrderRequest:
    spec: PairSpec
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    time_in_force: str  # GTC | IOC | FOK
    price: Decimal | None
    qty: Decimal | None
    quote_qty: Decimal | None
    client_order_id: str


def commission(x: Decimal) -> Decimal:
    return (x * COMMISSION_RATE).quantize(EIGHT, rounding=ROUND_HALF_UP)


class Ledger:
    def __init__(self, market: Market, state_file: Path | None = None) -> None:
        self.market = market
        self.state_file = state_file
        self._lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.trades: dict[int, Trade] = {}
        self._next_order = 1
        self._next_trade = 1
        if state_file is not None and state_file.exists():
            self._load(json.loads(state_file.read_text()))

    # -- accounts --------------------------------------------------------------------------

    def issue(self, balances: dict[str, Decimal], now_ms: int) -> Account:
        with self._lock:
            key, secret = new_key_pair()
            account = Account(key, secret, uid=len(self.accounts) + 1, created_ms=now_ms,
                              update_ms=now_ms)
            for asset, qty in balances.items():
                account.credit(asset, qty)
            self.accounts[key] = account
            self._save()
            return account

    def account(self, api_key: str) -> Account | None:
        with self._lock:
            return self.accounts.get(api_key)

    # -- orders ----------------------------------------------------------------------------

    def place(self, account: Account, req: OrderRequest, now_ms: int) -> tuple[Order, list[Trade]]:
        with self._lock:
            self.settle(now_ms)
            if any(o.client_order_id == req.client_order_id and o.is_open
                   and o.api_key == account.api_key for o in self.orders.values()):
                raise ApiError(-2010, "Duplicate order sent.")
            order = Order(
                order_id=self._next_order, api_key=account.api_key, symbol=req.spec.market_id,
                client_order_id=req.client_order_id, side=req.side, type=req.type,
                time_in_force=req.time_in_force, price=req.price or ZERO,
                orig_qty=req.qty or ZERO, orig_quote_qty=req.quote_qty or ZERO,
                time_ms=now_ms, update_ms=now_ms, checked_ms=now_ms)
            fills = matching.take(self.market, req.spec, now_ms, req.side, req.qty,
                                  req.quote_qty, req.price)
            if req.type == "LIMIT":
                trades = self._place_limit(account, req, order, fills, now_ms)
            else:
                trades = self._place_market(account, req, order, fills, now_ms)
            self._next_order += 1
            self.orders[order.order_id] = order
            account.update_ms = now_ms
            self._save()
            return order, trades

    def _place_limit(self, account: Account, req: OrderRequest, order: Order,
                     fills: list[matching.Fill], now_ms: int) -> list[Trade]:
        spec, price, qty = req.spec, order.price, order.orig_qty
        lock_asset, lock_qty = (spec.quote, price * qty) if req.side == "BUY" else (spec.base, qty)
        try:
            account.lock(lock_asset, lock_qty)
        except BalanceError:
            raise insufficient() from None
        order.locked = lock_qty
        if req.time_in_force == "FOK" and sum((f.qty for f in fills), ZERO) < qty:
            fills = []  # all or nothing: nothing
        trades = [self._fill(account, order, f.price, f.qty, now_ms, maker=False) for f in fills]
        if order.remaining == 0:
            order.status = FILLED
        elif req.time_in_force == "GTC":
            order.status = PARTIALLY_FILLED if trades else NEW
        else:  # IOC / FOK: the rest expires at once
            order.status = EXPIRED
        if not order.is_open:
            self._release(account, order)
        elif req.side == "BUY":  # fills below the limit: keep only the rest's price x qty
            excess = order.locked - price * order.remaining
            account.unlock(spec.quote, excess)
            order.locked -= excess
        return trades

    def _place_market(self, account: Account, req: OrderRequest, order: Order,
                      fills: list[matching.Fill], now_ms: int) -> list[Trade]:
        spec = req.spec
        if req.side == "BUY":
            cost = sum((f.price * f.qty for f in fills), ZERO)
            if cost > account.free(spec.quote):
                raise insufficient()
            account.lock(spec.quote, cost)
            order.locked = cost
        else:
            sell_qty = req.qty if req.qty is not None else sum((f.qty for f in fills), ZERO)
            if sell_qty > account.free(spec.base):
                raise insufficient()
            account.lock(spec.base, sell_qty)
            order.locked = sell_qty
        trades = [self._fill(account, order, f.price, f.qty, now_ms, maker=False) for f in fills]
        if req.quote_qty is not None:  # Binance shows the base quantity bought or sold
            order.orig_qty = order.executed_qty
        complete = order.executed_qty > 0 and order.remaining == 0
        order.status = FILLED if complete else EXPIRED
        self._release(account, order)
        return trades

    def _fill(self, account: Account, order: Order, price: Decimal, qty: Decimal,
              time_ms: int, maker: bool) -> Trade:
        """Book one fill: move the assets, charge commission, record the trade."""
        base, quote = self._assets(order.symbol)
        value = price * qty
        if order.side == "BUY":
            spent = value
            fee, fee_asset = commission(qty), base
            account.spend_locked(quote, spent)
            account.credit(base, qty - fee)
        else:
            spent = qty
            fee, fee_asset = commission(value), quote
            account.spend_locked(base, spent)
            account.credit(quote, value - fee)
        order.locked -= spent
        order.executed_qty += qty
        order.cum_quote += value
        order.update_ms = time_ms
        trade = Trade(id=self._next_trade, symbol=order.symbol, order_id=order.order_id,
                      price=price, qty=qty, commission=fee, commission_asset=fee_asset,
                      time_ms=time_ms, is_buyer=order.side == "BUY", is_maker=maker,
                      api_key=account.api_key)
        self._next_trade += 1
        self.trades[trade.id] = trade
        order.trade_ids.append(trade.id)
        return trade

    def _release(self, account: Account, order: Order) -> None:
        """Give back whatever a closed order still holds (unfilled rest, better prices)."""
        if order.locked:
            base, quote = self._assets(order.symbol)
            account.unlock(quote if order.side == "BUY" else base, order.locked)
            order.locked = ZERO

    def _assets(self, market_id: str) -> tuple[str, str]:
        spec = self.market.spec_by_id(market_id)
        assert spec is not None
        return spec.base, spec.quote

    def settle(self, now_ms: int) -> int:
        """Fill resting limit orders whose price the market reached; how many filled."""
        filled = 0
        with self._lock:
            for order in list(self.orders.values()):
                if not order.is_open or order.type != "LIMIT":
                    continue
                spec = self.market.spec_by_id(order.symbol)
                assert spec is not None
                at = matching.crossing_time(self.market, spec, order.side, order.price,
                                              order.time_ms, order.checked_ms, now_ms)
                order.checked_ms = now_ms
                if at is None:
                    continue
                account = self.accounts[order.api_key]
                self._fill(account, order, order.price, order.remaining, at, maker=True)
                order.status = FILLED
                self._release(account, order)
                account.update_ms = at
                filled += 1
            if filled:
                self._save()
        return filled

    def find(self, account: Account, market_id: str, order_id: int | None,
             client_id: str | None) -> Order | None:
        with self._lock:
            for o in self.orders.values():
                if o.api_key != account.api_key or o.symbol != market_id:
                    continue
                if (order_id is not None and o.order_id == order_id) or (
                        order_id is None and o.client_order_id == client_id):
                    return o
            return None

    def cancel(self, account: Account, order: Order, now_ms: int) -> Order:
        with self._lock:
            if not order.is_open:
                raise ApiError(-2011, "Unknown order sent.")
            order.status = CANCELED
            order.update_ms = now_ms
            self._release(account, order)
            account.update_ms = now_ms
            self._save()
            return order

    def orders_of(self, account: Account, market_id: str | None = None,
                  open_only: bool = False) -> list[Order]:
        with self._lock:
            return [o for o in sorted(self.orders.values(), key=lambda o: o.order_id)
                    if o.api_key == account.api_key
                    and (market_id is None or o.symbol == market_id)
                    and (o.is_open or not open_only)]

    def trades_of(self, account: Account, market_id: str) -> list[Trade]:
        with self._lock:
            return [t for t in sorted(self.trades.values(), key=lambda t: t.id)
                    if t.api_key == account.api_key and t.symbol == market_id]

    # -- persistence -----------------------------------------------------------------------

    def _save(self) -> None:
        if self.state_file is None:
            return
        state = {
            "version": STATE_VERSION,
            "next_order": self._next_order,
            "next_trade": self._next_trade,
            "accounts": [a.to_json() for a in self.accounts.values()],
            "orders": [o.to_json() for o in self.orders.values()],
            "trades": [t.to_json() for t in self.trades.values()],
        }
        tmp = self.state_file.with_name(f".{self.state_file.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(state, separators=(",", ":")))
        os.replace(tmp, self.state_file)

    def _load(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{self.state_file}: unknown exchange state version "
                             f"{state.get('version')!r} (expected {STATE_VERSION})")
        self._next_order = int(state["next_order"])
        self._next_trade = int(state["next_trade"])
        self.accounts = {a["api_key"]: Account.from_json(a) for a in state["accounts"]}
        self.orders = {o["order_id"]: Order.from_json(o) for o in state["orders"]}
        self.trades = {t["id"]: Trade.from_json(t) for t in state["trades"]}


def client_order_id() -> str:
    """Binance's generated ``clientOrderId``: 22 characters."""
    return uuid.uuid4().hex[:22]
