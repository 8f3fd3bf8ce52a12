"""The exchange process driven by unmodified clients: CCXT ``binance`` (sync) and Freqtrade.

One exchange process (``python -m tradai_sim.exchange``) per module on a free port; every test
leaves the fault state reset. Candles fetched through the clients must equal the market model's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import numpy as np
import pytest
import requests

from tests.integration.exchange_process import ExchangeProcess
from tradai_sim.exchange.market import Market

SEED = 7
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "ETH/BTC"]
M5 = 300_000


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExchangeProcess]:
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange"), SEED, PAIRS)
    try:
        yield proc
    finally:
        proc.stop()
    assert proc.proc.returncode == 0, "the exchange should exit cleanly on SIGTERM"


@pytest.fixture()
def client(exchange: ExchangeProcess) -> Iterator[ccxt.binance]:
    exchange.admin("reset")
    ex = ccxt.binance(
        {
            "urls": exchange.urls(),
            "options": {"fetchMarkets": {"types": ["spot"]}},
            "enableRateLimit": False,
            "timeout": 5000,
        }
    )
    yield ex
    exchange.admin("reset")


def test_ccxt_loads_markets_with_real_looking_rules(client: ccxt.binance) -> None:
    markets = client.load_markets()
    assert set(markets) == set(PAIRS)
    btc = markets["BTC/USDT"]
    assert btc["spot"] and btc["active"] and btc["type"] == "spot"
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5.0 and btc["limits"]["amount"]["min"] == 0.00001
    assert markets["ETH/BTC"]["quote"] == "BTC"


def test_ccxt_paginates_three_days_of_5m_candles_exactly(client: ccxt.binance) -> None:
    client.load_markets()
    now = client.fetch_time()
    since = now - now % M5 - 3 * 86_400_000
    candles: list[list[float]] = []
    cursor = since
    while True:
        page = client.fetch_ohlcv("BTC/USDT", "5m", since=cursor, limit=200)
        if not page:
            break
        candles += page
        cursor = page[-1][0] + M5
        if len(page) < 200:
            break
    times = [c[0] for c in candles]
    assert times[0] == since
    assert np.all(np.diff(times) == M5), "contiguous: no gap, no duplicate"
    assert len(candles) >= 3 * 288
    # Closed candles equal the model's series exactly.
    closed = [c for c in candles if c[0] + M5 <= now]
    model = Market(SEED, PAIRS).candles("BTC/USDT", "5m", since, len(closed), now)
    got = np.array(closed)
    assert np.array_equal(got[:, 0], model.open_time)
    for col, arr in ((1, model.open), (2, model.high), (3, model.low), (4, model.close)):
        assert np.allclose(got[:, col], arr, rtol=0, atol=1e-9)
    assert np.allclose(got[:, 5], model.volume, rtol=1e-12)


def test_ccxt_ticker_and_order_book(client: ccxt.binance) -> None:
    ticker = client.fetch_ticker("ETH/USDT")
    assert ticker["bid"] < ticker["ask"] and ticker["last"] > 0
    assert ticker["low"] <= ticker["last"] <= ticker["high"]
    book = client.fetch_order_book("SOL/USDT", limit=10)
    assert len(book["bids"]) == 10 and book["bids"][0][0] < book["asks"][0][0]
    tickers = client.fetch_tickers()
    assert set(tickers) == set(PAIRS)


def test_forced_429_is_a_ccxt_rate_limit_error(exchange: ExchangeProcess, client) -> None:
    client.load_markets()
    exchange.admin("faults", {"force_429_for_seconds": 30, "retry_after": 2})
    with pytest.raises(ccxt.DDoSProtection):  # RateLimitExceeded is a DDoSProtection
        client.fetch_ticker("BTC/USDT")
    r = requests.get(f"{exchange.url}/api/v3/ping", timeout=5)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert r.json()["code"] == -1003


def test_weight_budget_exhaustion_is_a_429(exchange: ExchangeProcess, client) -> None:
    exchange.admin("faults", {"rate_limit": {"weight_per_minute": 30}})
    with pytest.raises(ccxt.DDoSProtection):
        for _ in range(4):  # 20 weight each; a minute boundary can reset the count once
            client.publicGetExchangeInfo()
    r = requests.get(f"{exchange.url}/api/v3/exchangeInfo", timeout=5)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_5xx_burst_is_exchange_not_available_then_recovers(exchange, client) -> None:
    client.load_markets()
    exchange.admin("faults", {"error_burst": {"status": 503, "count": 2}})
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            client.fetch_ticker("BTC/USDT")
    assert client.fetch_ticker("BTC/USDT")["last"] > 0


def test_outage_modes(exchange: ExchangeProcess, client: ccxt.binance) -> None:
    client.load_markets()
    exchange.admin("faults", {"outage": True})
    with pytest.raises(ccxt.ExchangeNotAvailable):
        client.fetch_time()
    exchange.admin("faults", {"outage_mode": "close"})
    with pytest.raises(ccxt.NetworkError):
        client.fetch_time()
    exchange.admin("faults", {"outage": False})
    assert client.fetch_time() > 0


def test_latency_knob(exchange: ExchangeProcess, client: ccxt.binance) -> None:
    exchange.admin("faults", {"latency_ms": 150})
    t0 = time.perf_counter()
    client.fetch_time()
    assert time.perf_counter() - t0 >= 0.15


def freqtrade_config(exchange: ExchangeProcess, tmp: Path) -> dict[str, Any]:
    from freqtrade.enums import RunMode

    return {
        "exchange": {
            "name": "binance",
            "key": "",
            "secret": "",
            "enable_ws": False,
            "pair_whitelist": ["BTC/USDT", "ETH/USDT"],
            "pair_blacklist": [],
            "ccxt_config": {
                "options": {"fetchMarkets": {"types": ["spot"]}},
                "urls": exchange.urls(),
            },
            "ccxt_async_config": {},
        },
        "dry_run": True,
        "runmode": RunMode.DRY_RUN,
        "stake_currency": "USDT",
        "stake_amount": 10,
        "timeframe": "5m",
        "max_open_trades": 1,
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "user_data_dir": str(tmp),
        "datadir": str(tmp / "data"),
    }


def test_freqtrade_loads_markets_and_refreshes_candles(
    exchange: ExchangeProcess, tmp_path: Path
) -> None:
    from freqtrade.enums import CandleType
    from freqtrade.resolvers import ExchangeResolver

    exchange.admin("reset")
    ft = ExchangeResolver.load_exchange(freqtrade_config(exchange, tmp_path), validate=True)
    try:
        assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(ft.markets)
        assert ft.get_pair_base_currency("ETH/BTC") == "ETH"
        key = ("BTC/USDT", "5m", CandleType.SPOT)
        ft.refresh_latest_ohlcv([key, ("ETH/USDT", "5m", CandleType.SPOT)])
        df = ft.klines(key)
        assert len(df) > 100
        assert (df["date"].diff().dropna() == df["date"].iloc[1] - df["date"].iloc[0]).all()
        rate = ft.get_rate("BTC/USDT", side="entry", is_short=False, refresh=True)
        assert rate > 0
    finally:
        ft.close()
    stats = exchange.admin("stats")
    assert set(stats["paths"]) <= {
        "/api/v3/exchangeInfo",
        "/api/v3/time",
        "/api/v3/klines",
        "/api/v3/ticker/24hr",
        "/api/v3/depth",
    }, stats
    assert stats["paths"]["/api/v3/exchangeInfo"] >= 1 and stats["paths"]["/api/v3/klines"] >= 2
    assert set(stats["statuses"]) == {"200"}, stats
