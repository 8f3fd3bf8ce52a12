"""The exchange behind CCXT: client factory, market cache, and candle pages with backoff.

The client is CCXT's own ``binance`` class, unmodified. Only configuration differs between
the local stack and production:

- ``TRADAI_EXCHANGE_URL`` sends every API family of the client to that host, paths kept (the
  exchange simulator); unset means the real exchange;
- ``TRADAI_EGRESS_PROXY`` sets CCXT's ``httpProxy``, the one option that routes both CCXT
  clients through a forward proxy (the NAT model plugs in here, no code change);
- ``fetchMarkets.types = ["spot"]`` keeps CCXT off the futures hosts.

Errors come out as two kinds the API can answer clearly: :class:`UnknownPair` (a 4xx) and
:class:`ExchangeUnavailable` (a 503 naming the exchange), after backoff on 429 / 5xx /
network errors (``ccxt.NetworkError`` covers RateLimitExceeded, DDoSProtection,
ExchangeNotAvailable and RequestTimeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt

from tradai.data.retry import Backoff, GaveUp, call_with_backoff
from tradai.data.settings import DataSettings

T = TypeVar("T")
_REASON_CHARS = 300


class ExchangeUnavailable(RuntimeError):
    def __init__(self, exchange: str, reason: str) -> None:
        super().__init__(f"exchange {exchange} unavailable: {reason}")
        self.exchange = exchange
        self.reason = reason[:_REASON_CHARS]


class UnknownPair(ValueError):
    def __init__(self, exchange: str, pairs: list[str]) -> None:
        super().__init__(f"unknown pair(s) on {exchange}: {', '.join(pairs)}")
        self.exchange = exchange
        self.pairs = pairs


def redirected_urls(api: Any, base: str) -> Any:
    """CCXT's ``urls['api']`` with every URL moved to ``base`` (scheme and host), paths kept."""
    if isinstance(api, dict):
        return {name: redirected_urls(url, base) for name, url in api.items()}
    if isinstance(api, str):
        return base.rstrip("/") + urlsplit(api).path
    return api


def ccxt_config(s: DataSettings) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": s.exchange_timeout_ms,
        "options": {"fetchMarkets": {"types": ["spot"]}, "defaultType": "spot"},
    }
    if s.exchange_rate_limit_ms is not None:
        cfg["rateLimit"] = s.exchange_rate_limit_ms
    if s.exchange_url:
        default_api = getattr(ccxt, s.exchange_id)().urls["api"]
        cfg["urls"] = {"api": redirected_urls(default_api, s.exchange_url)}
    if s.egress_proxy:
        cfg["httpProxy"] = s.egress_proxy
    return cfg


def make_client(s: DataSettings) -> ccxt.Exchange:
    if not hasattr(ccxt, s.exchange_id):
        raise ValueError(f"CCXT has no exchange {s.exchange_id!r}")
    return getattr(ccxt, s.exchange_id)(ccxt_config(s))


class ExchangeGateway:
    """Shared by the whole process: markets loaded once (TTL), one CCXT client per thread
    (CCXT's sync client holds a requests session, not meant for concurrent use)."""

    def __init__(
        self,
        settings: DataSettings,
        client_factory: Callable[[DataSettings], Any] = make_client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.exchange_id = settings.exchange_id
        self.backoff = Backoff(settings.retry_base_s, settings.retry_cap_s,
                               settings.retry_max_attempts)
        self._factory = client_factory
        self._sleep = sleep
        self._local = threading.local()
        self._markets: dict[str, Any] | None = None
        self._markets_at = 0.0
        self._markets_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    # -- markets ------------------------------------------------------------------------------

    def markets(self) -> dict[str, Any]:
        with self._markets_lock:
            fresh = time.monotonic() - self._markets_at < self.settings.markets_ttl_s
            if self._markets is None or not fresh:
                client = self._factory(self.settings)
                self._markets = self._guard(client, lambda: client.load_markets(reload=True),
                                            "load markets")
                self._markets_at = time.monotonic()
            return self._markets

    def check_pairs(self, pairs: Iterable[str]) -> None:
        markets = self.markets()
        unknown = [p for p in pairs if p not in markets]
        if unknown:
            raise UnknownPair(self.exchange_id, unknown)

    # -- candles ------------------------------------------------------------------------------

    def fetch_ohlcv(self, pair: str, timeframe: str, since_ms: int,
                    limit: int) -> list[list[float]]:
        """One page: up to ``limit`` candles opening at or after ``since_ms``."""
        client = self._client()
        return self._guard(
            client, lambda: client.fetch_ohlcv(pair, timeframe, since=since_ms, limit=limit),
            f"candles {pair} {timeframe}", pair)

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._factory(self.settings)
            client.set_markets(list(self.markets().values()))
            self._local.client = client
        return client

    def _guard(self, client: Any, fn: Callable[[], T], what: str, pair: str | None = None) -> T:
        def attempt() -> T:
            with self._stats_lock:
                self.requests += 1
            return fn()

        try:
            return call_with_backoff(
                attempt, self.backoff, (ccxt.NetworkError,),
                retry_after=lambda exc: _retry_after(client, exc), on_retry=self._on_retry,
                sleep=self._sleep)
        except ccxt.BadSymbol as exc:
            raise UnknownPair(self.exchange_id, [pair or what]) from exc
        except GaveUp as exc:
            raise ExchangeUnavailable(self.exchange_id, f"{what}: {exc}") from exc
        except ccxt.BaseError as exc:
            raise ExchangeUnavailable(
                self.exchange_id, f"{what}: {type(exc).__name__}: {exc}") from exc

    def _on_retry(self, exc: BaseException, attempt: int, wait: float) -> None:
        with self._stats_lock:
            self.retries += 1


def _retry_after(client: Any, exc: BaseException) -> float | None:
    """The 429's Retry-After (the headers of a refused connection would be a stale answer's)."""
    if not isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return None
    headers = getattr(client, "last_response_headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
