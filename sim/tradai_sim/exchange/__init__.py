"""The exchange simulator: "the internet" of the local cloud.

A Binance-compatible spot REST API (``/api/v3/...``) over a seeded synthetic market, so CCXT's
``binance`` class and Freqtrade run unmodified against it with only their URLs pointed here.

- ``market``: the synthetic price path (pure, deterministic in (seed, pair, timestamp)).
- ``symbols``: the pair catalogue and the exchangeInfo symbol entries.
- ``quotes``: tickers, order book and average price derived from the market.
- ``api``: the ``/api/v3`` routes as plain functions (params in, JSON out).
- ``ratelimit`` / ``faults``: request weight budget and the drills' fault knobs.
- ``signing``: Binance's request security (key, HMAC-SHA256 signature, timestamp/recvWindow).
- ``accounts`` / ``orders`` / ``ledger``: issued keys, balances, orders and trades, placement
  and settlement, the optional state file; ``matching``: the book walk and limit crossings;
  ``filters``: the symbol filters; ``private_api``: the signed ``/api/v3`` and ``sapi`` routes.
- ``server``: the HTTP server, admin endpoints and request statistics.

Start it with ``python -m tradai_sim.exchange --host 127.0.0.1 --port 9100 --seed 7``.
"""

from tradai_sim.exchange.app import ExchangeApp, make_app
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.server import ExchangeServer, make_server

__all__ = ["ExchangeApp", "ExchangeServer", "Market", "make_app", "make_server"]
