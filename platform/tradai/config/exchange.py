"""How Freqtrade and CCXT reach the exchange: Binance itself, or a Binance-compatible server
(the local exchange simulator) when an exchange URL is configured."""

from __future__ import annotations

from typing import Any

# CCXT binance API groups a spot client may touch, and their paths on a Binance-style host.
CCXT_API_PATHS: dict[str, str] = {
    "public": "/api/v3", "private": "/api/v3", "v1": "/api/v1",
    "sapi": "/sapi/v1", "sapiV2": "/sapi/v2", "sapiV3": "/sapi/v3", "sapiV4": "/sapi/v4",
}
# Spot only: without it CCXT also loads the futures markets from their own hosts.
SPOT_OPTIONS: dict[str, Any] = {"fetchMarkets": {"types": ["spot"]}}


def ccxt_urls(exchange_url: str) -> dict[str, Any]:
    base = exchange_url.rstrip("/")
    return {"api": {group: base + path for group, path in CCXT_API_PATHS.items()}}


def ccxt_config(exchange_url: str | None, egress_proxy: str | None = None) -> dict[str, Any]:
    """CCXT constructor options (also Freqtrade's ``exchange.ccxt_config``).

    ``egress_proxy`` (``TRADAI_EGRESS_PROXY`` of the process that will make the calls) sets
    ``httpProxy``, the one CCXT option that routes both its sync and async clients through a
    forward proxy; unset on AWS, where the NAT is transparent.
    """
    config: dict[str, Any] = {"options": dict(SPOT_OPTIONS)}
    if exchange_url:
        config["urls"] = ccxt_urls(exchange_url)
    if egress_proxy:
        config["httpProxy"] = egress_proxy
    return config


def exchange_layer(exchange_url: str | None, egress_proxy: str | None = None) -> dict[str, Any]:
    """The config layer that points a Freqtrade bot at the configured exchange."""
    return {"exchange": {"ccxt_config": ccxt_config(exchange_url, egress_proxy),
                         "enable_ws": False}}
