"""The request pipeline, independent of the HTTP transport.

Order per request: count it, refuse it if it bypassed the NAT (optional), add latency, apply
faults (outage, 5xx burst, forced 429), route, charge its weight against the per-minute budget
(429 + ``Retry-After`` over budget), then for a signed route verify key, signature and
timestamp (``signing``) and settle resting orders (``ledger``), serve. ``/_admin/*`` is never
charged, faulted or counted: drills and tests use it to steer the exchange, count calls and
issue API keys.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tradai.clock import Clock, default_clock
from tradai_sim.exchange import signing
from tradai_sim.exchange.accounts import Account, parse_balances
from tradai_sim.exchange.api import ApiError, SpotApi
from tradai_sim.exchange.faults import FaultError, Faults
from tradai_sim.exchange.ledger import Ledger
from tradai_sim.exchange.market import Market, RegimeChange
from tradai_sim.exchange.private_api import SignedApi
from tradai_sim.exchange.ratelimit import BINANCE_WEIGHT_PER_MINUTE, WeightLimiter
from tradai_sim.vpc.marks import EGRESS_HEADER, EGRESS_TOKEN_HEADER

try:  # orjson (a Freqtrade dependency) is ~5x faster for kline pages; json is the fallback
    import orjson

    def _dumps(body: Any) -> bytes:
        return orjson.dumps(body)
except ImportError:  # pragma: no cover

    def _dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()


JSON_TYPE = "application/json;charset=UTF-8"
TEXT_TYPE = "text/plain;charset=UTF-8"
NAT_HEADER = "X-Tradai-Nat"
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # drop the connection without answering (outage_mode "close")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, _dumps(body), {"Content-Type": JSON_TYPE, **(headers or {})})


def _text(status: int, text: str) -> Response:
    return Response(status, text.encode(), {"Content-Type": TEXT_TYPE})


class Stats:
    """Requests seen per path, per status and per NAT header value (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.paths: Counter[str] = Counter()
            self.statuses: Counter[int] = Counter()
            self.via: Counter[str] = Counter()

    def seen(self, path: str, via: str | None) -> None:
        with self._lock:
            self.paths[path] += 1
            if via:
                self.via[via] += 1

    def answered(self, status: int) -> None:
        with self._lock:
            self.statuses[status] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.paths.values()),
                "paths": dict(self.paths),
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "via": dict(self.via),
            }


class ExchangeApp:
    """Everything the exchange answers, given (method, path, query, headers, body)."""

    def __init__(
        self,
        market: Market,
        clock: Clock | None = None,
        weight_per_minute: int | None = BINANCE_WEIGHT_PER_MINUTE,
        require_header: str | None = None,
        egress_token: str | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.market = market
        self.clock = clock or default_clock()
        self.default_weight_per_minute = weight_per_minute
        self.limiter = WeightLimiter(weight_per_minute)
        self.faults = Faults()
        self.stats = Stats()
        self.require_header = require_header
        # With a token, only requests an egress process of the VPC marked are served.
        self.egress_token = egress_token
        self.api = SpotApi(market, lambda: self.limiter.weight_per_minute)
        self.ledger = Ledger(market, state_file)
        self.signed = SignedApi(market, self.ledger)

    def now_s(self) -> float:
        return self.clock.now()

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes = b"",
        query: str | None = None,
    ) -> Response:
        """``params`` are the query's; ``query`` its raw text (what a signature covers;
        rebuilt from ``params`` when None); ``headers`` have lower-case names."""
        if path.startswith("/_admin/"):
            return self._admin(method, path, body)
        via, refusal = self._egress(headers)
        self.stats.seen(path, via)
        if refusal:
            response = _text(403, refusal)
        else:
            raw_query = urlencode(params) if query is None else query
            response = self._serve(method, path, params, headers, raw_query, body)
        self.stats.answered(0 if response.close else response.status)
        return response

    # -- market data ----------------------------------------------------------------------

    def _egress(self, headers: dict[str, str]) -> tuple[str | None, str | None]:
        """Who forwarded the request, and why it is refused (None: served)."""
        if self.egress_token is not None:
            via = headers.get(EGRESS_HEADER.lower())
            if headers.get(EGRESS_TOKEN_HEADER.lower()) != self.egress_token:
                return via, ("Forbidden: this request did not leave the VPC through a NAT "
                             "instance or the internet gateway (no valid "
                             f"{EGRESS_TOKEN_HEADER}); a private subnet reaches the internet "
                             "only through the NAT instance its route table names")
            return via, None
        if self.require_header:
            via = headers.get(self.require_header.lower())
            if not via:
                return None, (f"Forbidden: no {self.require_header} header; requests must "
                              "reach the exchange through a NAT instance")
            return via, None
        return None, None

    def _serve(self, method: str, path: str, params: dict[str, str], headers: dict[str, str],
               query: str, body: bytes) -> Response:
        latency = self.faults.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)  # wall time: what the client's socket experiences
        now_s = self.now_s()
        verdict = self.faults.verdict(now_s)
        if verdict.action == "close":
            return Response(0, close=True)
        if verdict.action == "status":
            return _text(verdict.status, _REASONS.get(verdict.status, "Server Error"))
        if verdict.action == "429":
            retry = verdict.retry_after_fixed
            if retry is None:
                retry = self._wall_seconds(verdict.retry_after_s)
            return self._too_many(retry, self.limiter.used(now_s))
        route = self.api.routes.get(path) if method == "GET" else None
        signed = self.signed.routes.get((method, path))
        if route is None and signed is None:
            return _text(404, "Not Found")
        text_body = body.decode("utf-8", "replace")
        if signed is not None and text_body:  # POST parameters travel form-encoded
            params = {**params, **dict(parse_qsl(text_body, keep_blank_values=True))}
        try:
            weight = (route or signed).weight(params)  # type: ignore[union-attr]
        except ApiError:
            weight = 1
        charge = self.limiter.charge(weight, now_s)
        if not charge.allowed:
            return self._too_many(self._wall_seconds(charge.retry_after_s), charge.used)
        used = {"x-mbx-used-weight": str(charge.used), "x-mbx-used-weight-1m": str(charge.used)}
        now_ms = int(now_s * 1000)
        try:
            if route is not None:
                return _json(200, route.serve(params, now_ms), used)
            assert signed is not None
            if signed.signed:
                account = signing.verify(headers, params, query, text_body, now_ms,
                                         self.ledger.account, self.clock.to_wall)
            else:
                account = signing.api_key_of(headers, self.ledger.account)
            self.ledger.settle(now_ms)
            return _json(200, signed.serve(account, params, now_ms), used)
        except ApiError as e:
            return _json(e.status, e.body(), used)

    def _wall_seconds(self, sim_seconds: float) -> int:
        return max(1, math.ceil(self.clock.to_wall(sim_seconds)))

    def _too_many(self, retry_after: int, used: int) -> Response:
        limit = self.limiter.weight_per_minute or BINANCE_WEIGHT_PER_MINUTE
        msg = (
            f"Too much request weight used; current limit is {limit} request weight per "
            "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
        )
        return _json(
            429,
            {"code": -1003, "msg": msg},
            {
                "Retry-After": str(retry_after),
                "x-mbx-used-weight": str(used),
                "x-mbx-used-weight-1m": str(used),
            },
        )

    # -- admin ----------------------------------------------------------------------------

    def fault_state(self) -> dict[str, Any]:
        now_s = self.now_s()
        state = self.faults.snapshot(now_s)
        state["rate_limit"] = {
            "weight_per_minute": self.limiter.weight_per_minute,
            "used": self.limiter.used(now_s),
        }
        return state

    def set_faults(self, body: dict[str, Any]) -> None:
        """Apply a fault request (see module ``faults``), plus ``rate_limit``."""
        if "rate_limit" in body:
            rl = body["rate_limit"] or {}
            if not isinstance(rl, dict):
                raise FaultError("rate_limit must be an object {weight_per_minute}")
            limit = rl.get("weight_per_minute", self.default_weight_per_minute)
            if limit is not None and (not isinstance(limit, int) or limit < 1):
                raise FaultError("rate_limit.weight_per_minute must be an integer >= 1 or null")
            self.limiter.reset(limit)
        self.faults.update(body, self.now_s())

    def reset(self) -> None:
        self.faults.reset()
        self.stats.reset()
        self.limiter.reset(self.default_weight_per_minute)

    def _admin(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_admin/faults" and method == "GET":
            return _json(200, self.fault_state())
        if path == "/_admin/faults" and method == "POST":
            try:
                parsed = json.loads(body or b"{}")
                if not isinstance(parsed, dict):
                    raise FaultError("body must be a JSON object")
                self.set_faults(parsed)
            except (ValueError, FaultError) as e:
                return _json(400, {"error": str(e)})
            return _json(200, self.fault_state())
        if path == "/_admin/regime":
            return self._regime(method, body)
        if path == "/_admin/reset" and method == "POST":
            self.reset()
            return _json(200, self.fault_state())
        if path == "/_admin/stats" and method == "GET":
            return _json(200, self.stats.snapshot())
        if path == "/_admin/api-keys" and method == "POST":
            return self._issue_key(body)
        if path == "/_admin/accounts" and method == "GET":
            self.ledger.settle(int(self.now_s() * 1000))
            return _json(200, [self._account_view(a) for a in self.ledger.accounts.values()])
        if path.startswith("/_admin/accounts/") and method == "GET":
            self.ledger.settle(int(self.now_s() * 1000))
            account = self.ledger.account(path.rsplit("/", 1)[1])
            if account is None:
                return _json(404, {"error": "no account has this API key"})
            return _json(200, self._account_view(account))
        if path == "/_admin/health" and method == "GET":
            return _json(
                200,
                {
                    "ok": True,
                    "seed": self.market.seed,
                    "pairs": self.market.pairs,
                    "now_ms": int(self.now_s() * 1000),
                    "require_header": self.require_header,
                    "egress_checked": self.egress_token is not None,
                },
            )
        return _json(404, {"error": f"no admin route {method} {path}"})


    def _regime(self, method: str, body: bytes) -> Response:
        """``GET``/``POST``/``DELETE /_admin/regime``: the market's injected regime change
        (``{"since_ms", "volatility" | "daily_volatility", "drift_per_day"}``; ``reset`` leaves
        it alone: it is the market, not a fault knob)."""
        if method == "POST":
            try:
                parsed = json.loads(body or b"{}")
                if not isinstance(parsed, dict):
                    raise ValueError("body must be a JSON object")
                unknown = set(parsed) - {"since_ms", "volatility", "drift_per_day",
                                         "daily_volatility"}
                if unknown or "since_ms" not in parsed or not (
                        {"volatility", "daily_volatility"} & set(parsed)):
                    raise ValueError("give since_ms and volatility or daily_volatility (and "
                                     f"drift_per_day); unknown: {sorted(unknown)}")
                change = RegimeChange(**parsed)
            except (ValueError, TypeError) as e:
                return _json(400, {"error": str(e)})
            self.market.set_regime_change(change)
        elif method == "DELETE":
            self.market.set_regime_change(None)
        elif method != "GET":
            return _json(405, {"error": f"{method} /_admin/regime: use GET, POST or DELETE"})
        change = self.market.regime_change
        return _json(200, {"regime_change": change.as_dict() if change else None})

    def _issue_key(self, body: bytes) -> Response:
        """``{"balances": {"USDT": 10000}}`` (optional) -> a new account's key pair."""
        try:
            parsed = json.loads(body or b"{}")
            if not isinstance(parsed, dict):
                raise ValueError("body must be a JSON object {balances?}")
            unknown = set(parsed) - {"balances"}
            if unknown:
                raise ValueError(f"unknown field(s) {sorted(unknown)}; only 'balances'")
            balances = parse_balances(parsed.get("balances"))
        except ValueError as e:
            return _json(400, {"error": str(e)})
        account = self.ledger.issue(balances, int(self.now_s() * 1000))
        return _json(201, {"apiKey": account.api_key, "secretKey": account.secret,
                           **self._account_view(account)})

    def _account_view(self, account: Account) -> dict[str, Any]:
        return {"apiKey": account.api_key, "uid": account.uid,
                "balances": account.balances_view(),
                "openOrders": len(self.ledger.orders_of(account, open_only=True))}


def make_app(
    market: Market,
    clock: Clock | None = None,
    weight_per_minute: int | None = BINANCE_WEIGHT_PER_MINUTE,
    require_header: str | None = None,
    egress_token: str | None = None,
    state_file: Path | None = None,
) -> ExchangeApp:
    return ExchangeApp(market, clock, weight_per_minute, require_header, egress_token,
                       state_file)
