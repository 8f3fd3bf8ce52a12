"""Live-trading keys in the running stack: at ``up`` the exchange simulator issues a key pair and
the stack stores it in the ``exchange-credentials`` secret (PutSecretValue,
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html); a
client that reads the secret (GetSecretValue) places a signed order the stack's exchange
accepts, through a private subnet's NAT as a strategy task would, with its timestamp on the
stack's clock (Binance's timing rule:
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security).
"""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tradai.clock import Clock
from tradai_sim.exchange.server import CCXT_API_PATHS


def _credentials(cloud: RunningCloud) -> dict[str, str]:
    value = cloud.client("secretsmanager").get_secret_value(
        SecretId=cloud.name("exchange-credentials"))["SecretString"]
    return json.loads(value)


def _routed_subnet(cloud: RunningCloud) -> dict[str, Any] | None:
    subnets = requests.get(f"{cloud.endpoint}/_sim/network", timeout=10).json()["subnets"]
    return next((s for s in subnets if s["tier"] == "private" and s["egress"]["works"]), None)


def _client(cloud: RunningCloud, key: str, secret: str, proxy: str) -> ccxt.binance:
    url = cloud.status()["resources"]["endpoints"]["exchange"]
    return ccxt.binance({
        "apiKey": key, "secret": secret, "httpProxy": proxy, "enableRateLimit": False,
        "urls": {"api": {name: url + path for name, path in CCXT_API_PATHS.items()}},
        # fetchCurrencies and fetchMargins off: load_markets stays public (its signed sapi
        # calls take CCXT's own timestamp, the wall clock here).
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                    "fetchMargins": False},
        "timeout": 10_000,
    })


def test_the_secret_holds_a_key_the_stacks_exchange_accepts(cloud: RunningCloud) -> None:
    status = cloud.status()
    assert status["parts"]["internet"]["credentials"] in ("issued", "kept")
    creds = _credentials(cloud)
    assert set(creds) == {"api_key", "api_secret"} and len(creds["api_key"]) == 64
    clock = Clock(scale=status["time_scale"], origin=status["clock_origin"])

    def on_stack_clock() -> dict[str, int]:
        return {"timestamp": int(clock.now() * 1000)}

    subnet = wait_for(lambda: _routed_subnet(cloud), timeout=60)
    ex = _client(cloud, creds["api_key"], creds["api_secret"], subnet["egress_proxy"])
    ex.load_markets()
    # A client on the wall clock is behind the dilated stack clock: outside recvWindow.
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        ex.fetch_balance()
    usdt = ex.fetch_balance(on_stack_clock())["USDT"]["free"]
    assert usdt > 50
    order = ex.create_order("BTC/USDT", "market", "buy", 0.001, params=on_stack_clock())
    assert order["status"] == "closed" and order["filled"] == 0.001
    got = ex.fetch_order(order["id"], "BTC/USDT", params=on_stack_clock())
    assert got["status"] == "closed" and got["trades"] is not None
    after = ex.fetch_balance(on_stack_clock())
    assert after["BTC"]["free"] >= 0.001 * 0.999

    wrong = _client(cloud, creds["api_key"], "x" * 64, subnet["egress_proxy"])
    wrong.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong.fetch_balance(on_stack_clock())


def test_tasks_are_told_the_secrets_physical_name(cloud: RunningCloud) -> None:
    """Those whose access in the spec names the secret (the strategy task, the backend), and
    no one else (tradai.topology.access)."""
    ecs = cloud.client("ecs")

    def env(family: str) -> dict[str, str]:
        return {e["name"]: e["value"] for c in ecs.describe_task_definition(
            taskDefinition=cloud.name(family))["taskDefinition"]["containerDefinitions"]
            for e in c.get("environment", [])}

    for family in ("strategy", "backend-api"):
        assert env(family)["TRADAI_SECRET_EXCHANGE_CREDENTIALS"] == \
            cloud.name("exchange-credentials"), family
    assert "TRADAI_SECRET_EXCHANGE_CREDENTIALS" not in env("data-collection")
