"""The /api/v3 routes and the request pipeline, without sockets (fixed simulated time)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tradai_sim.exchange.api import ApiError, SpotApi
from tradai_sim.exchange.app import ExchangeApp
from tradai_sim.exchange.market import EPOCH_MS, Market
from tradai_sim.exchange.ratelimit import WeightLimiter

NOW_MS = int(datetime(2026, 6, 1, 12, 34, 56, 789000, tzinfo=UTC).timestamp() * 1000)
M5 = 300_000


@dataclass
class FakeClock:
    """Simulated time under the test's control; ``scale`` wall/simulated as the real Clock."""

    t: float = NOW_MS / 1000
    scale: float = 1.0

    def now(self) -> float:
        return self.t

    def to_wall(self, sim_seconds: float) -> float:
        return sim_seconds / self.scale


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(7)


@pytest.fixture()
def api(market: Market) -> SpotApi:
    return SpotApi(market)


def klines(api: SpotApi, **params: Any) -> list[list[Any]]:
    p = {"symbol": "BTCUSDT", "interval": "5m", **{k: str(v) for k, v in params.items()}}
    return api.klines(p, NOW_MS)


def test_klines_default_is_the_last_500_including_the_open_candle(api: SpotApi) -> None:
    rows = klines(api)
    assert len(rows) == 500
    assert rows[-1][0] == NOW_MS - NOW_MS % M5  # the open candle
    assert all(b[0] - a[0] == M5 for a, b in itertools.pairwise(rows))
    assert rows[0][6] == rows[0][0] + M5 - 1  # close time
    assert len(rows[0]) == 12 and isinstance(rows[0][1], str) and rows[0][11] == "0"


def test_klines_limit_is_capped_at_1000(api: SpotApi) -> None:
    assert len(klines(api, limit=5000)) == 1000
    assert len(klines(api, limit=3)) == 3


def test_klines_start_time_selects_open_times_at_or_after_it(api: SpotApi) -> None:
    start = NOW_MS - NOW_MS % M5 - 100 * M5
    assert klines(api, startTime=start, limit=5)[0][0] == start
    assert klines(api, startTime=start + 1, limit=5)[0][0] == start + M5
    # Runs up to now, not past it.
    rows = klines(api, startTime=start, limit=1000)
    assert len(rows) == 101


def test_klines_end_time_and_both_bounds(api: SpotApi) -> None:
    end = NOW_MS - NOW_MS % M5 - 50 * M5
    rows = klines(api, endTime=end + 10, limit=10)
    assert [r[0] for r in rows] == [end - k * M5 for k in range(9, -1, -1)]
    rows = klines(api, startTime=end - 3 * M5, endTime=end, limit=500)
    assert [r[0] for r in rows] == [end - 3 * M5, end - 2 * M5, end - M5, end]
    assert klines(api, startTime=NOW_MS + M5) == []


def test_klines_before_listing_start_at_the_first_candle(api: SpotApi) -> None:
    rows = klines(api, startTime=0, limit=2)
    assert rows[0][0] == EPOCH_MS


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "NOPEUSDT", "interval": "5m"}, -1121),
        ({"interval": "5m"}, -1102),
        ({"symbol": "BTCUSDT"}, -1102),
        ({"symbol": "BTCUSDT", "interval": "7m"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "5m", "limit": "abc"}, -1100),
        ({"symbol": "BTCUSDT", "interval": "5m", "startTime": "10", "endTime": "5"}, -1023),
    ],
)
def test_klines_errors_have_binance_codes(api: SpotApi, params: dict[str, str], code: int) -> None:
    with pytest.raises(ApiError) as err:
        api.klines(params, NOW_MS)
    assert err.value.code == code and err.value.status == 400
    assert set(err.value.body()) == {"code", "msg"}


def test_exchange_info_shape(api: SpotApi) -> None:
    info = api.exchange_info({}, NOW_MS)
    assert info["timezone"] == "UTC" and info["serverTime"] == NOW_MS
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert btc["status"] == "TRADING" and "SPOT" in btc["permissions"]
    one = api.exchange_info({"symbol": "ETHBTC"}, NOW_MS)
    assert [s["symbol"] for s in one["symbols"]] == ["ETHBTC"]


def test_tickers_book_and_avg_price_agree_with_candles(api: SpotApi) -> None:
    route = api.routes["/api/v3/ticker/24hr"]
    one = route.serve({"symbol": "ETHUSDT"}, NOW_MS)
    last_kline = api.klines({"symbol": "ETHUSDT", "interval": "1m", "limit": "1"}, NOW_MS)[0]
    assert one["lastPrice"] == last_kline[4]
    assert float(one["highPrice"]) >= float(one["lastPrice"]) >= float(one["lowPrice"])
    assert isinstance(route.serve({}, NOW_MS), list)
    some = route.serve({"symbols": '["ETHUSDT","BTCUSDT"]'}, NOW_MS)
    assert [t["symbol"] for t in some] == ["ETHUSDT", "BTCUSDT"]
    book = api.depth({"symbol": "ETHUSDT", "limit": "20"}, NOW_MS)
    assert len(book["bids"]) == 20 and len(book["asks"]) == 20
    assert float(book["bids"][0][0]) < float(book["asks"][0][0])
    assert book["bids"][0][0] == one["bidPrice"]
    prices = [float(b[0]) for b in book["bids"]]
    assert prices == sorted(prices, reverse=True)
    avg = api.avg_price({"symbol": "ETHUSDT"}, NOW_MS)
    assert avg["mins"] == 5 and float(avg["price"]) > 0


def test_weights_follow_binance(api: SpotApi) -> None:
    w = {path: route.weight for path, route in api.routes.items()}
    assert w["/api/v3/exchangeInfo"]({}) == 20
    assert w["/api/v3/klines"]({}) == 2
    assert w["/api/v3/depth"]({"limit": "100"}) == 5
    assert w["/api/v3/depth"]({"limit": "1000"}) == 50
    assert w["/api/v3/ticker/24hr"]({"symbol": "BTCUSDT"}) == 2
    assert w["/api/v3/ticker/24hr"]({}) == 80


def test_weight_limiter_windows() -> None:
    lim = WeightLimiter(10)
    assert lim.charge(6, 120.0).allowed
    refused = lim.charge(6, 130.0)
    assert not refused.allowed and refused.used == 6 and refused.retry_after_s == 50.0
    assert lim.charge(6, 180.0).allowed  # a new minute


# -- the pipeline ----------------------------------------------------------------------------


def call(app: ExchangeApp, path: str, method: str = "GET", body: Any = None, **params: str):
    raw = json.dumps(body).encode() if body is not None else b""
    return app.handle(method, path, params, {}, raw)


@pytest.fixture()
def app(market: Market) -> ExchangeApp:
    return ExchangeApp(market, FakeClock(scale=20.0), weight_per_minute=100)  # type: ignore[arg-type]


def test_pipeline_headers_errors_and_stats(app: ExchangeApp) -> None:
    ok = call(app, "/api/v3/klines", symbol="BTCUSDT", interval="1h", limit="2")
    assert ok.status == 200 and ok.headers["x-mbx-used-weight-1m"] == "2"
    bad = call(app, "/api/v3/depth", symbol="FOO")
    assert bad.status == 400 and json.loads(bad.body) == {"code": -1121, "msg": "Invalid symbol."}
    assert call(app, "/fapi/v1/exchangeInfo").status == 404
    stats = json.loads(call(app, "/_admin/stats").body)
    assert stats["paths"] == {"/api/v3/klines": 1, "/api/v3/depth": 1, "/fapi/v1/exchangeInfo": 1}
    assert stats["statuses"] == {"200": 1, "400": 1, "404": 1}


def test_pipeline_rate_limit_returns_429_with_retry_after_in_wall_seconds(
    app: ExchangeApp,
) -> None:
    for _ in range(5):
        assert call(app, "/api/v3/exchangeInfo").status == 200  # 5 x 20 = the budget
    refused = call(app, "/api/v3/exchangeInfo")
    assert refused.status == 429 and json.loads(refused.body)["code"] == -1003
    # 3.2 simulated seconds left in the minute at scale 20 -> 1 wall second (rounded up).
    assert refused.headers["Retry-After"] == "1"
    app.clock.t += 60  # type: ignore[attr-defined]
    assert call(app, "/api/v3/exchangeInfo").status == 200


def test_pipeline_faults(app: ExchangeApp) -> None:
    r = call(app, "/_admin/faults", "POST", {"error_burst": {"status": 502, "count": 2}})
    assert r.status == 200
    assert [call(app, "/api/v3/ping").status for _ in range(3)] == [502, 502, 200]
    call(app, "/_admin/faults", "POST", {"force_429_for_seconds": 30, "retry_after": 7})
    forced = call(app, "/api/v3/ping")
    assert forced.status == 429 and forced.headers["Retry-After"] == "7"
    app.clock.t += 31  # type: ignore[attr-defined]
    assert call(app, "/api/v3/ping").status == 200
    call(app, "/_admin/faults", "POST", {"outage": True})
    assert call(app, "/api/v3/time").status == 503
    call(app, "/_admin/faults", "POST", {"outage_mode": "close"})
    assert call(app, "/api/v3/time").close
    assert call(app, "/_admin/faults", "POST", {"outage_mode": "boom"}).status == 400
    call(app, "/_admin/reset", "POST")
    assert call(app, "/api/v3/time").status == 200
    state = json.loads(call(app, "/_admin/faults").body)
    assert state["outage"] is False and state["rate_limit"]["weight_per_minute"] == 100


def test_pipeline_rate_limit_can_be_changed_at_run_time(app: ExchangeApp) -> None:
    call(app, "/_admin/faults", "POST", {"rate_limit": {"weight_per_minute": 25}})
    assert call(app, "/api/v3/exchangeInfo").status == 200
    assert call(app, "/api/v3/exchangeInfo").status == 429
    call(app, "/_admin/faults", "POST", {"rate_limit": {"weight_per_minute": None}})
    assert all(call(app, "/api/v3/exchangeInfo").status == 200 for _ in range(10))


def test_require_header_refuses_requests_that_bypassed_the_nat(market: Market) -> None:
    app = ExchangeApp(market, FakeClock(), require_header="X-Tradai-Nat")  # type: ignore[arg-type]
    assert app.handle("GET", "/api/v3/ping", {}, {}).status == 403
    assert app.handle("GET", "/api/v3/ping", {}, {"x-tradai-nat": "nat-a"}).status == 200
    stats = app.stats.snapshot()
    assert stats["via"] == {"nat-a": 1} and stats["statuses"] == {"403": 1, "200": 1}


def test_egress_token_refuses_requests_that_did_not_leave_the_vpc_through_an_egress(
        market: Market) -> None:
    app = ExchangeApp(market, FakeClock(), egress_token="s3cret")  # type: ignore[arg-type]
    refused = app.handle("GET", "/api/v3/ping", {}, {"x-tradai-egress": "nat:i-1"})
    assert refused.status == 403 and b"NAT instance" in refused.body
    wrong = {"x-tradai-egress": "nat:i-1", "x-tradai-egress-token": "guess"}
    assert app.handle("GET", "/api/v3/ping", {}, wrong).status == 403
    marked = {"x-tradai-egress": "nat:i-1", "x-tradai-egress-token": "s3cret"}
    assert app.handle("GET", "/api/v3/ping", {}, marked).status == 200
    assert app.handle("GET", "/_admin/health", {}, {}).status == 200  # the harness's own
    assert app.stats.snapshot()["via"] == {"nat:i-1": 3}
