"""Unmodified clients trade on the in-process exchange simulator: CCXT's ``binance`` class and
Freqtrade's own exchange class in live mode (``dry_run: false``), with a key pair the exchange
issued. Only the URLs point here (``server.ccxt_urls()``).

CCXT signs with HMAC-SHA256 as Binance documents
(https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security) and maps
Binance's error codes to its exceptions (-1022 -> AuthenticationError, -2010 ->
InsufficientFunds by message, -2011/-2013 -> OrderNotFound). With a key, ``load_markets`` also
asks ``sapi/v1/capital/config/getall`` and the margin pair lists
(https://developers.binance.com/docs/wallet/capital/all-coins-info); the simulator serves them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest
import requests

from tradai_sim.exchange import Market, make_server
from tradai_sim.exchange.server import ExchangeServer

PAIRS = ["BTC/USDT", "ETH/USDT", "ETH/BTC"]


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    srv = make_server(Market(7, PAIRS), port=0).start()
    try:
        yield srv
    finally:
        srv.stop()


def issue(server: ExchangeServer, balances: dict[str, Any] | None = None) -> dict[str, Any]:
    r = requests.post(f"{server.url}/_admin/api-keys",
                      json={"balances": balances} if balances else {}, timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def client(server: ExchangeServer, key: str, secret: str) -> ccxt.binance:
    return ccxt.binance({
        "apiKey": key, "secret": secret, "urls": server.ccxt_urls(),
        "options": {"fetchMarkets": {"types": ["spot"]}}, "enableRateLimit": False,
        "timeout": 5000,
    })


def test_ccxt_trades_on_the_simulator(server: ExchangeServer) -> None:
    keys = issue(server, {"USDT": 100_000})
    ex = client(server, keys["apiKey"], keys["secretKey"])
    ex.load_markets()
    assert ex.currencies["BTC"]["id"] == "BTC"  # from sapi capital/config/getall
    assert ex.fetch_balance()["USDT"] == {"free": 100_000.0, "used": 0.0, "total": 100_000.0}

    bought = ex.create_order("BTC/USDT", "market", "buy", 0.05)
    assert bought["status"] == "closed" and bought["filled"] == 0.05
    assert bought["fee"]["currency"] == "BTC"
    assert bought["fee"]["cost"] == pytest.approx(0.05 * 0.001)
    balance = ex.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.05 * 0.999)
    assert balance["USDT"]["free"] == pytest.approx(100_000 - bought["cost"])

    bid = ex.fetch_ticker("BTC/USDT")["bid"]
    limit = ex.create_order("BTC/USDT", "limit", "buy", 0.01, round(bid * 0.9, 2))
    assert limit["status"] == "open" and limit["filled"] == 0
    assert ex.fetch_order(limit["id"], "BTC/USDT")["status"] == "open"
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [limit["id"]]
    assert ex.fetch_balance()["USDT"]["used"] == pytest.approx(limit["price"] * 0.01)
    canceled = ex.cancel_order(limit["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ex.fetch_balance()["USDT"]["used"] == 0

    trades = ex.fetch_my_trades("BTC/USDT")
    assert [t["order"] for t in trades] == [bought["id"]]
    assert trades[0]["side"] == "buy" and trades[0]["takerOrMaker"] == "taker"
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order(limit["id"], "BTC/USDT")
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "market", "buy", 100)
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):  # CCXT's -1013
        ex.create_order("BTC/USDT", "limit", "buy", 0.00001, 100.0)


def test_ccxt_wrong_secret_is_an_authentication_error(server: ExchangeServer) -> None:
    keys = issue(server)
    wrong = client(server, keys["apiKey"], "x" * 64)
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong.fetch_balance()
    unknown = client(server, "A" * 64, keys["secretKey"])
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        unknown.fetch_balance()


def freqtrade_live_config(server: ExchangeServer, keys: dict[str, Any],
                          tmp: Path) -> dict[str, Any]:
    from freqtrade.enums import RunMode

    return {
        "exchange": {
            "name": "binance",
            "key": keys["apiKey"],
            "secret": keys["secretKey"],
            "enable_ws": False,
            "pair_whitelist": ["BTC/USDT", "ETH/USDT"],
            "pair_blacklist": [],
            "ccxt_config": {"options": {"fetchMarkets": {"types": ["spot"]}},
                            "urls": server.ccxt_urls()},
            "ccxt_async_config": {},
        },
        "dry_run": False,
        "runmode": RunMode.LIVE,
        "stake_currency": "USDT",
        "stake_amount": 50,
        "timeframe": "5m",
        "max_open_trades": 1,
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "user_data_dir": str(tmp),
        "datadir": str(tmp / "data"),
    }


def test_freqtrade_live_exchange_places_fills_and_cancels(server: ExchangeServer,
                                                          tmp_path: Path) -> None:
    from freqtrade.resolvers import ExchangeResolver

    keys = issue(server)
    before = requests.get(f"{server.url}/_admin/stats", timeout=5).json()["paths"]
    ft = ExchangeResolver.load_exchange(freqtrade_live_config(server, keys, tmp_path),
                                        validate=True)
    try:
        assert ft.get_balances()["USDT"]["free"] == 10_000.0
        rate = ft.get_rate("ETH/USDT", side="entry", is_short=False, refresh=True)
        amount = ft.amount_to_precision("ETH/USDT", 50 / rate)
        bought = ft.create_order(pair="ETH/USDT", ordertype="market", side="buy", amount=amount,
                                 rate=rate, leverage=1.0)
        got = ft.fetch_order(bought["id"], "ETH/USDT")
        assert got["status"] == "closed" and got["filled"] == amount
        assert ft.get_balances()["ETH"]["free"] == pytest.approx(amount * 0.999)

        low = ft.price_to_precision("ETH/USDT", rate * 0.9)
        resting = ft.create_order(pair="ETH/USDT", ordertype="limit", side="buy",
                                  amount=ft.amount_to_precision("ETH/USDT", 20 / low),
                                  rate=low, leverage=1.0)
        assert ft.fetch_order(resting["id"], "ETH/USDT")["status"] == "open"
        canceled = ft.cancel_order(resting["id"], "ETH/USDT")
        assert canceled["status"] == "canceled"
        assert ft.fetch_order(resting["id"], "ETH/USDT")["status"] == "canceled"
    finally:
        ft.close()
    after = requests.get(f"{server.url}/_admin/stats", timeout=5).json()
    called = {p for p, n in after["paths"].items() if n > before.get(p, 0)}
    assert called <= {
        "/api/v3/exchangeInfo", "/api/v3/time", "/api/v3/ticker/24hr", "/api/v3/depth",
        "/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades",
        "/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs",
        "/sapi/v1/margin/isolated/allPairs",
    }, called
    assert "404" not in after["statuses"], after
