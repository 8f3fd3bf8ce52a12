"""The exchange simulator's signed API without sockets: request security (key, HMAC signature,
timestamp and recvWindow), accounts and balances, the matching engine against the synthetic
book, resting limit orders, cancel, filters, errors, and the state file.

Binance's documents these tests follow:
- https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security
  (X-MBX-APIKEY, HMAC-SHA256 of totalParams = query string + request body, timestamp and
  recvWindow: default 5000, at most 60000, and "1000ms ahead of the server's time");
- https://developers.binance.com/docs/binance-spot-api-docs/errors (-1013, -1021, -1022, -1102,
  -1131, -2010, -2011, -2013, -2014, -2015);
- https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints
  (new order: MARKET / LIMIT, timeInForce GTC / IOC / FOK, newOrderRespType, fills; cancel);
- https://developers.binance.com/docs/binance-spot-api-docs/filters (PRICE_FILTER, LOT_SIZE,
  NOTIONAL);
- https://www.binance.com/en/fee/schedule (0.1% spot maker/taker, charged in the asset received).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from tradai_sim.exchange import quotes
from tradai_sim.exchange.app import ExchangeApp
from tradai_sim.exchange.intervals import MINUTE_MS
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.signing import sign

NOW_MS = int(datetime(2026, 6, 1, 12, 34, 56, 789000, tzinfo=UTC).timestamp() * 1000)
PAIRS = ["BTC/USDT", "ETH/USDT", "ETH/BTC"]


@dataclass
class FakeClock:
    t: float = NOW_MS / 1000
    scale: float = 1.0

    def now(self) -> float:
        return self.t

    def to_wall(self, sim_seconds: float) -> float:
        return sim_seconds / self.scale


def now_ms(app: ExchangeApp) -> int:
    return int(app.clock.now() * 1000)


@dataclass
class Client:
    """Signs like CCXT: GET/DELETE in the query string, POST in a form-encoded body."""

    app: ExchangeApp
    key: str
    secret: str

    def call(self, method: str, path: str, *, secret: str | None = None,
             headers: dict[str, str] | None = None, **params: Any) -> tuple[int, Any]:
        params.setdefault("timestamp", now_ms(self.app))
        payload = urlencode({k: str(v) for k, v in params.items() if v is not None})
        signed = f"{payload}&signature={sign(secret or self.secret, payload)}"
        hdrs = {"x-mbx-apikey": self.key} if headers is None else headers
        if method in ("GET", "DELETE"):
            r = self.app.handle(method, path, dict(parse_qsl(signed)), hdrs, b"", signed)
        else:
            r = self.app.handle(method, path, {}, hdrs, signed.encode(), "")
        return r.status, json.loads(r.body) if r.body else None

    def ok(self, method: str, path: str, **params: Any) -> Any:
        status, body = self.call(method, path, **params)
        assert status == 200, body
        return body

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        acct = self.ok("GET", "/api/v3/account")
        return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in acct["balances"]}


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(7, PAIRS)


@pytest.fixture()
def app(market: Market) -> ExchangeApp:
    return ExchangeApp(market, FakeClock(), weight_per_minute=None)  # type: ignore[arg-type]


def issue(app: ExchangeApp, balances: dict[str, Any] | None = None) -> Client:
    body = json.dumps({"balances": balances} if balances is not None else {}).encode()
    r = app.handle("POST", "/_admin/api-keys", {}, {}, body)
    assert r.status == 201, r.body
    got = json.loads(r.body)
    return Client(app, got["apiKey"], got["secretKey"])


def asks(app: ExchangeApp, pair: str = "BTC/USDT", n: int = 100) -> list[tuple[Decimal, Decimal]]:
    spec = app.market.specs[pair]
    book = quotes.order_book(app.market, spec, now_ms(app), n)
    return [(Decimal(p), Decimal(q)) for p, q in book["asks"]]


# -- request security ---------------------------------------------------------------------


def test_signature_is_binances_hmac_sha256_of_the_documented_examples() -> None:
    """The request-security page's HMAC examples: query string only, and query string +
    body concatenated without '&' (the signature differs between the two)."""
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert sign(secret, f"{query}&{body}") == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
    assert sign(secret, query + body) == (
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")


def test_new_key_has_10000_usdt_and_nothing_else(app: ExchangeApp) -> None:
    c = issue(app)
    acct = c.ok("GET", "/api/v3/account")
    assert [(b["asset"], b["free"], b["locked"]) for b in acct["balances"]] == [
        ("USDT", "10000.00000000", "0.00000000")]
    assert acct["canTrade"] and acct["accountType"] == "SPOT"
    assert acct["commissionRates"]["taker"] == "0.00100000" and acct["takerCommission"] == 10


def test_signature_over_query_and_body_split_is_accepted(app: ExchangeApp) -> None:
    c = issue(app)
    query = "symbol=BTCUSDT&side=BUY&type=MARKET"
    body = f"quantity=0.001&newOrderRespType=ACK&timestamp={now_ms(app)}"
    signature = sign(c.secret, query + body)
    r = app.handle("POST", "/api/v3/order", dict(parse_qsl(query)), {"x-mbx-apikey": c.key},
                   f"{body}&signature={signature}".encode(), query)
    assert r.status == 200, r.body
    assert json.loads(r.body)["symbol"] == "BTCUSDT"


def test_key_and_signature_errors(app: ExchangeApp) -> None:
    c = issue(app)
    assert c.call("GET", "/api/v3/account", secret="x" * 64) == (
        400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert c.call("GET", "/api/v3/account", headers={}) == (
        401, {"code": -2014, "msg": "API-key format invalid."})
    assert c.call("GET", "/api/v3/account", headers={"x-mbx-apikey": "A" * 64}) == (
        401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    # No signature at all: a missing mandatory parameter.
    r = app.handle("GET", "/api/v3/account", {"timestamp": str(now_ms(app))},
                   {"x-mbx-apikey": c.key}, b"", f"timestamp={now_ms(app)}")
    assert r.status == 400 and json.loads(r.body)["code"] == -1102
    assert b"'signature'" in r.body


def test_hmac_signature_is_not_case_sensitive(app: ExchangeApp) -> None:
    c = issue(app)
    payload = f"timestamp={now_ms(app)}"
    query = f"{payload}&signature={sign(c.secret, payload).upper()}"
    r = app.handle("GET", "/api/v3/account", dict(parse_qsl(query)), {"x-mbx-apikey": c.key},
                   b"", query)
    assert r.status == 200, r.body


def test_timestamp_against_recv_window_on_the_exchange_clock(app: ExchangeApp) -> None:
    c = issue(app)
    now = now_ms(app)
    outside = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    assert c.call("GET", "/api/v3/account", timestamp=now - 5000)[0] == 200  # default 5000
    assert c.call("GET", "/api/v3/account", timestamp=now - 5001) == (400, outside)
    assert c.call("GET", "/api/v3/account", timestamp=now - 59_000, recvWindow=60000)[0] == 200
    assert c.call("GET", "/api/v3/account", timestamp=now + 999)[0] == 200
    assert c.call("GET", "/api/v3/account", timestamp=now + 1000) == (400, {
        "code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."})
    assert c.call("GET", "/api/v3/account", recvWindow=60001) == (
        400, {"code": -1131, "msg": "recvWindow must be less than 60000"})
    status, body = c.call("GET", "/api/v3/account", timestamp=None)
    assert (status, body["code"]) == (400, -1102) and "'timestamp'" in body["msg"]
    # The exchange's clock decides: the same request ages out when simulated time moves on.
    ts = now_ms(app)
    app.clock.t += 6  # type: ignore[attr-defined]
    assert c.call("GET", "/api/v3/account", timestamp=ts) == (400, outside)


def test_recv_window_bounds_wall_time_under_dilation(market: Market) -> None:
    """Transit and clock skew are real work: at 20x the 5000 ms window spans 100 simulated
    seconds, and "1000ms ahead" 20 simulated seconds (the timestamp itself is simulated)."""
    app = ExchangeApp(market, FakeClock(scale=20.0), weight_per_minute=None)  # type: ignore[arg-type]
    c = issue(app)
    now = now_ms(app)
    assert c.call("GET", "/api/v3/account", timestamp=now - 99_000)[0] == 200
    assert c.call("GET", "/api/v3/account", timestamp=now - 101_000)[1]["code"] == -1021
    assert c.call("GET", "/api/v3/account", timestamp=now + 19_000)[0] == 200
    assert c.call("GET", "/api/v3/account", timestamp=now + 20_000)[1]["code"] == -1021


def test_signed_requests_are_charged_their_weight(market: Market) -> None:
    app = ExchangeApp(market, FakeClock(), weight_per_minute=45)  # type: ignore[arg-type]
    c = issue(app)
    payload = f"timestamp={now_ms(app)}"
    query = f"{payload}&signature={sign(c.secret, payload)}"
    r = app.handle("GET", "/api/v3/account", dict(parse_qsl(query)), {"x-mbx-apikey": c.key},
                   b"", query)
    assert r.headers["x-mbx-used-weight-1m"] == "20"
    app.handle("GET", "/api/v3/account", dict(parse_qsl(query)), {"x-mbx-apikey": c.key}, b"",
               query)
    r = app.handle("GET", "/api/v3/account", dict(parse_qsl(query)), {"x-mbx-apikey": c.key},
                   b"", query)
    assert r.status == 429 and json.loads(r.body)["code"] == -1003


# -- matching -----------------------------------------------------------------------------


def test_market_buy_walks_the_book_and_pays_commission_in_base(app: ExchangeApp) -> None:
    c = issue(app, {"USDT": 10_000_000})
    levels = asks(app)
    qty = levels[0][1] + levels[1][1] + levels[2][1] / 2  # three levels, the third in part
    qty = qty.quantize(Decimal("0.00001"))
    r = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
             quantity=f"{qty:f}")
    assert r["status"] == "FILLED" and Decimal(r["executedQty"]) == qty
    fills = r["fills"]
    assert [Decimal(f["price"]) for f in fills] == [p for p, _ in levels[:3]]
    assert [Decimal(f["qty"]) for f in fills[:2]] == [levels[0][1], levels[1][1]]
    cost = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in fills)
    assert Decimal(r["cummulativeQuoteQty"]) == cost.quantize(Decimal("0.00000001"))
    fees = [Decimal(f["commission"]) for f in fills]
    assert all(f["commissionAsset"] == "BTC" for f in fills)
    assert fees == [(Decimal(f["qty"]) * Decimal("0.001")).quantize(Decimal("1E-8"))
                    for f in fills]
    bal = c.balances()
    assert bal["BTC"] == (qty - sum(fees), 0)
    assert bal["USDT"] == (Decimal(10_000_000) - cost, 0)


def test_market_sell_pays_commission_in_quote(app: ExchangeApp) -> None:
    c = issue(app, {"BTC": 1})
    r = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="MARKET",
             quantity="0.01")
    bid = quotes.best_prices(app.market, app.market.specs["BTC/USDT"], now_ms(app))[0]
    assert Decimal(r["fills"][0]["price"]) == Decimal(bid) * Decimal("0.01")
    proceeds = Decimal(r["cummulativeQuoteQty"])
    fee = Decimal(r["fills"][0]["commission"])
    assert r["fills"][0]["commissionAsset"] == "USDT"
    assert fee == (proceeds * Decimal("0.001")).quantize(Decimal("1E-8"))
    assert c.balances()["USDT"] == (proceeds - fee, 0)
    assert c.balances()["BTC"] == (Decimal("0.99"), 0)


def test_crossing_limit_fills_the_depth_it_reaches_and_rests_the_rest(app: ExchangeApp) -> None:
    c = issue(app, {"USDT": 10_000_000})
    levels = asks(app)
    price = levels[1][0]  # crosses the best two ask levels
    available = levels[0][1] + levels[1][1]
    qty = available * 2
    r = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
             timeInForce="GTC", quantity=f"{qty:f}", price=f"{price:f}")
    assert r["status"] == "PARTIALLY_FILLED"
    assert Decimal(r["executedQty"]) == available and len(r["fills"]) == 2
    assert Decimal(r["fills"][0]["price"]) < price  # the better level fills at its own price
    rest = qty - available
    free, locked = c.balances()["USDT"]
    assert locked == price * rest  # the rest holds exactly its limit value
    assert free == Decimal(10_000_000) - Decimal(r["cummulativeQuoteQty"]) - price * rest
    opened = c.ok("GET", "/api/v3/openOrders", symbol="BTCUSDT")
    assert [o["orderId"] for o in opened] == [r["orderId"]]
    # Cancel: CANCELED with what was executed, the lock released.
    cancel = c.ok("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])
    assert cancel["status"] == "CANCELED" and Decimal(cancel["executedQty"]) == available
    assert c.balances()["USDT"][1] == 0
    assert c.ok("GET", "/api/v3/openOrders", symbol="BTCUSDT") == []


def test_ioc_expires_the_unfilled_rest_and_fok_fills_nothing(app: ExchangeApp) -> None:
    c = issue(app, {"USDT": 10_000_000})
    levels = asks(app)
    price, available = levels[0][0], levels[0][1]
    qty = f"{available * 3:f}"
    ioc = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
               timeInForce="IOC", quantity=qty, price=f"{price:f}")
    assert ioc["status"] == "EXPIRED" and Decimal(ioc["executedQty"]) == available
    before = c.balances()
    assert before["USDT"][1] == 0  # nothing left locked
    fok = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
               timeInForce="FOK", quantity=qty, price=f"{price:f}")
    assert fok["status"] == "EXPIRED" and Decimal(fok["executedQty"]) == 0 and fok["fills"] == []
    assert c.balances() == before


def crossing_minute(market: Market, price: Decimal, after_ms: int) -> int:
    """Open time of the first whole minute after ``after_ms``'s whose 1m low reaches price."""
    start = (after_ms // MINUTE_MS + 1) * MINUTE_MS
    c = market.candles("BTC/USDT", "1m", start, 1440, start + 1440 * MINUTE_MS)
    hit = (c.low <= float(price) + 0.005).nonzero()[0]
    assert len(hit), "the path never reached the price within a day"
    return int(c.open_time[hit[0]])


def test_resting_limit_fills_as_maker_when_the_price_path_crosses(app: ExchangeApp) -> None:
    c = issue(app)
    spec = app.market.specs["BTC/USDT"]
    bid = quotes.best_prices(app.market, spec, now_ms(app))[0] * Decimal("0.01")
    price = (bid * Decimal("0.99")).quantize(Decimal("0.01"))
    placed = now_ms(app)
    r = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
             timeInForce="GTC", quantity="0.001", price=f"{price:f}")
    assert r["status"] == "NEW" and r["fills"] == []
    minute = crossing_minute(app.market, price, placed)
    assert minute - placed > 5 * MINUTE_MS  # it rested a while
    app.clock.t = (minute - 1) / 1000  # type: ignore[attr-defined]  # just before that minute
    assert c.ok("GET", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])["status"] == "NEW"
    app.clock.t = (minute + MINUTE_MS) / 1000  # type: ignore[attr-defined]
    got = c.ok("GET", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])
    assert got["status"] == "FILLED" and got["executedQty"] == "0.00100000"
    filled_at = got["updateTime"]
    assert minute <= filled_at < minute + MINUTE_MS
    # At that instant the forming candle had reached the limit (within a tick of rounding).
    seen = app.market.candles("BTC/USDT", "1m", minute, 1, filled_at)
    assert float(seen.low[0]) <= float(price) + 0.01
    trades = c.ok("GET", "/api/v3/myTrades", symbol="BTCUSDT")
    assert len(trades) == 1 and trades[0]["isMaker"] is True and trades[0]["time"] == filled_at
    assert Decimal(trades[0]["price"]) == price and trades[0]["commission"] == "0.00000100"
    bal = c.balances()
    assert bal["BTC"] == (Decimal("0.000999"), 0)
    assert bal["USDT"] == (Decimal(10_000) - price * Decimal("0.001"), 0)


def test_same_fill_whether_polled_often_or_once(market: Market) -> None:
    """Lazy evaluation is deterministic: the fill time depends on the price path only."""
    fills = []
    for polls in (1, 40):
        app = ExchangeApp(market, FakeClock(), weight_per_minute=None)  # type: ignore[arg-type]
        c = issue(app)
        bid = quotes.best_prices(market, market.specs["BTC/USDT"], now_ms(app))[0]
        price = (Decimal(bid) * Decimal("0.01") * Decimal("0.998")).quantize(Decimal("0.01"))
        r = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                 timeInForce="GTC", quantity="0.001", price=f"{price:f}")
        end = crossing_minute(market, price, now_ms(app)) + 2 * MINUTE_MS
        start = now_ms(app)
        for i in range(1, polls + 1):
            app.clock.t = (start + (end - start) * i // polls) / 1000  # type: ignore[attr-defined]
            c.ok("GET", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])
        fills.append(c.ok("GET", "/api/v3/myTrades", symbol="BTCUSDT"))
    assert fills[0] == fills[1] and len(fills[0]) == 1


def test_insufficient_balance_is_2010_and_changes_nothing(app: ExchangeApp) -> None:
    c = issue(app)  # 10,000 USDT
    before = c.balances()
    big = c.call("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                 quantity="1")
    assert big == (400, {"code": -2010,
                         "msg": "Account has insufficient balance for requested action."})
    limit = c.call("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="LIMIT",
                   timeInForce="GTC", quantity="0.001", price="99999.00")
    assert limit[1]["code"] == -2010
    assert c.balances() == before and c.ok("GET", "/api/v3/allOrders", symbol="BTCUSDT") == []


@pytest.mark.parametrize(
    ("params", "failure"),
    [
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "50000.001"},
         "PRICE_FILTER"),
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.0000101", "price": "50000"},
         "LOT_SIZE"),
        ({"type": "MARKET", "quantity": "0.000001"}, "LOT_SIZE"),
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00001", "price": "50000"},
         "NOTIONAL"),  # 0.5 USDT < minNotional 5
        ({"type": "MARKET", "quantity": "0.00002"}, "NOTIONAL"),
    ],
)
def test_filter_failures_are_1013(app: ExchangeApp, params: dict[str, str],
                                  failure: str) -> None:
    c = issue(app)
    assert c.call("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", **params) == (
        400, {"code": -1013, "msg": f"Filter failure: {failure}"})


def test_missing_and_invalid_parameters(app: ExchangeApp) -> None:
    c = issue(app)
    status, body = c.call("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                          quantity="0.001", price="50000")
    assert (status, body["code"]) == (400, -1102) and "'timeInForce'" in body["msg"]
    assert c.call("POST", "/api/v3/order", symbol="NOPE", side="BUY", type="MARKET",
                  quantity="1")[1] == {"code": -1121, "msg": "Invalid symbol."}
    assert c.call("POST", "/api/v3/order", symbol="BTCUSDT", side="UP", type="MARKET",
                  quantity="1")[1]["code"] == -1117
    assert c.call("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                  quantity="abc")[1]["code"] == -1100


def test_unknown_orders(app: ExchangeApp) -> None:
    c = issue(app)
    assert c.call("GET", "/api/v3/order", symbol="BTCUSDT", orderId=999) == (
        400, {"code": -2013, "msg": "Order does not exist."})
    assert c.call("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=999) == (
        400, {"code": -2011, "msg": "Unknown order sent."})
    assert c.call("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")[1]["code"] == -2011
    # Another account's order is unknown to this one; a closed order cannot be canceled.
    other = issue(app)
    r = other.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                 quantity="0.001")
    assert c.call("GET", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])[1][
        "code"] == -2013
    assert other.call("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])[1][
        "code"] == -2011


def test_response_types_and_test_order(app: ExchangeApp) -> None:
    c = issue(app)
    ack = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
               quantity="0.001", newOrderRespType="ACK")
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    res = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
               quantity="0.001", newOrderRespType="RESULT", newClientOrderId="mine-1")
    assert "fills" not in res and res["status"] == "FILLED" and res["clientOrderId"] == "mine-1"
    assert c.ok("POST", "/api/v3/order/test", symbol="BTCUSDT", side="BUY", type="MARKET",
                quantity="0.001") == {}
    assert c.call("POST", "/api/v3/order/test", symbol="BTCUSDT", side="BUY", type="MARKET",
                  quantity="0.0000001")[1]["code"] == -1013
    assert len(c.ok("GET", "/api/v3/allOrders", symbol="BTCUSDT")) == 2  # test placed nothing
    got = c.ok("GET", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="mine-1")
    assert got["orderId"] == res["orderId"]


def test_state_file_keeps_keys_balances_and_open_orders(market: Market, tmp_path: Path) -> None:
    state = tmp_path / "exchange-state.json"
    app = ExchangeApp(market, FakeClock(), weight_per_minute=None, state_file=state)  # type: ignore[arg-type]
    c = issue(app)
    r = c.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
             timeInForce="GTC", quantity="0.01", price="1000.00")
    before = c.balances()
    assert before["USDT"][1] == Decimal("10")
    again = ExchangeApp(market, FakeClock(), weight_per_minute=None, state_file=state)  # type: ignore[arg-type]
    c2 = Client(again, c.key, c.secret)
    assert c2.balances() == before
    assert [o["orderId"] for o in c2.ok("GET", "/api/v3/openOrders")] == [r["orderId"]]
    assert c2.ok("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=r["orderId"])[
        "status"] == "CANCELED"
    nxt = c2.ok("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                quantity="0.001")
    assert nxt["orderId"] == r["orderId"] + 1  # ids continue, never reused


def test_issuing_keys_validates_balances(app: ExchangeApp) -> None:
    for body, needle in ((b"[]", b"JSON object"), (b'{"balances": {"usdt": 1}}', b"upper-case"),
                         (b'{"balances": {"USDT": -1}}', b">= 0"),
                         (b'{"balance": {}}', b"unknown field")):
        r = app.handle("POST", "/_admin/api-keys", {}, {}, body)
        assert r.status == 400 and needle in r.body, r.body
    c = issue(app, {"BTC": "0.5", "USDT": 0})
    assert c.balances() == {"BTC": (Decimal("0.5"), 0), "USDT": (0, 0)}
