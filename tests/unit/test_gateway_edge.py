"""The gateway and ALB stand-ins in process: upstreams are httpx mock transports, tokens are
signed by keys of our own (so expiry can be tested), the clock is a fake."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.unit.test_backend_fixtures import CLIENT, ISSUER, jwks_of, rsa_key, token
from tradai.clock import Clock
from tradai.services.backend_api.auth import JwksCache, TokenVerifier
from tradai_sim.edge import proxy
from tradai_sim.edge.alb import Alb, AlbConfig
from tradai_sim.edge.gateway import Gateway, GatewayConfig
from tradai_sim.edge.ratelimit import SlidingWindowLimiter
from tradai_sim.edge.targets import HEALTHY, Target, TargetGroup

KEY = rsa_key()


class FakeClock(Clock):
    def __init__(self, scale: float = 1.0) -> None:
        super().__init__(scale=scale, origin=0.0)
        object.__setattr__(self, "t", 1000.0)

    def now(self) -> float:
        return self.t  # type: ignore[attr-defined,no-any-return]

    def advance(self, seconds: float) -> None:
        object.__setattr__(self, "t", self.t + seconds)  # type: ignore[attr-defined]


# -- rate limiter ----------------------------------------------------------------------------
def test_sliding_window_allows_limit_then_refuses_until_oldest_expires() -> None:
    clock = FakeClock(scale=20)
    limiter = SlidingWindowLimiter(3, 300, clock)
    assert [limiter.check("a").allowed for _ in range(3)] == [True] * 3
    refused = limiter.check("a")
    assert not refused.allowed and refused.retry_after_wall == 15  # 300 sim s at scale 20
    assert limiter.check("b").allowed
    clock.advance(299)
    assert not limiter.check("a").allowed
    clock.advance(1)
    assert limiter.check("a").allowed


# -- gateway ---------------------------------------------------------------------------------
def run(coro: Any) -> Any:
    return asyncio.run(coro)


def gateway(upstream: Any, limit: int = 100) -> Gateway:
    cfg = GatewayConfig(port=0, upstream="http://alb.test", region="eu-central-1",
                        user_pool_id="pool", client_id=CLIENT, rate_limit_requests=limit)
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")))
    gw = Gateway(cfg, clock=FakeClock(), verifier=verifier)
    gw.client = httpx.AsyncClient(transport=httpx.MockTransport(upstream))
    return gw


async def call(app: Any, method: str, path: str, tok: str | None = None,
               **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", {})
    if tok:
        headers["Authorization"] = f"Bearer {tok}"
    transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        return await c.request(method, path, headers=headers, **kw)


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, headers=[("set-cookie", "a=1"), ("set-cookie", "b=2"),
                                        ("x-upstream", "yes")],
                          json={"method": request.method, "url": str(request.url),
                                "body": request.content.decode(),
                                "headers": dict(request.headers)})


def test_gateway_forwards_faithfully() -> None:
    gw = gateway(echo)
    resp = run(call(gw.app, "PUT", "/api/v1/things/7?x=1&x=2", token(KEY), content=b"payload",
                    headers={"x-custom": "v", "content-type": "text/plain"}))
    assert resp.status_code == 201
    assert resp.headers.get_list("set-cookie") == ["a=1", "b=2"]
    seen = resp.json()
    assert seen["method"] == "PUT" and seen["body"] == "payload"
    assert seen["url"] == "http://alb.test/api/v1/things/7?x=1&x=2"
    assert seen["headers"]["x-custom"] == "v" and seen["headers"]["x-forwarded-for"] == "10.0.0.9"
    assert seen["headers"]["authorization"].startswith("Bearer ")  # the backend re-validates


def test_expired_token_is_401() -> None:
    import time
    resp = run(call(gateway(echo).app, "GET", "/api/v1/x",
                    token(KEY, exp=int(time.time()) - 100)))
    assert resp.status_code == 401 and resp.json()["reason"] == "token expired"


def test_rate_limit_per_subject() -> None:
    gw = gateway(echo, limit=2)
    codes = [run(call(gw.app, "GET", "/api/v1/x", token(KEY))).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert run(call(gw.app, "GET", "/api/v1/x", token(KEY, sub="other"))).status_code == 201


def test_unrouted_path_is_404_not_forwarded() -> None:
    resp = run(call(gateway(echo).app, "GET", "/api/v2/x", token(KEY)))
    assert resp.status_code == 404 and "no route" in resp.json()["reason"]


@pytest.mark.parametrize(("exc", "status"), [
    (httpx.ConnectError("refused"), 503), (httpx.ReadTimeout("slow"), 504),
    (httpx.RemoteProtocolError("bad"), 502)])
def test_upstream_failures_are_never_500(exc: Exception, status: int) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc
    resp = run(call(gateway(fail).app, "GET", "/api/v1/x", token(KEY)))
    assert resp.status_code == status and resp.json()["reason"]


# -- ALB -------------------------------------------------------------------------------------
def alb(handler: Any) -> Alb:
    cfg = AlbConfig.model_validate({
        "main_port": 80, "discovery_ports": {"backend-api": 81}, "cluster": "c",
        "region": "eu-central-1",
        "services": {"backend-api": {"ecs_service": "b"}, "mlflow": {"ecs_service": "m"}},
        "rules": [{"prefix": "/api/v1", "service": "backend-api"},
                  {"prefix": "/mlflow", "service": "mlflow", "strip_prefix": True}]})
    a = Alb(cfg, clock=FakeClock(), ecs=object())
    a.client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return a


def healthy(group: TargetGroup, *ports: int) -> None:
    group.sync([Target(task_id=f"t{p}", host="127.0.0.1", port=p) for p in ports])
    for t in group.targets.values():
        t.state = HEALTHY


def port_echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"port": request.url.port, "path": request.url.path})


async def alb_call(a: Alb, path: str, port: int = 80, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=a.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://alb.test:{port}") as c:
        return await c.request(method, path)


def test_round_robin_over_healthy_targets_only() -> None:
    a = alb(port_echo)
    healthy(a.groups["backend-api"], 9001, 9002)
    a.groups["backend-api"].sync([*a.groups["backend-api"].targets.values(),
                                  Target(task_id="t9003", host="127.0.0.1", port=9003)])
    ports = {run(alb_call(a, "/api/v1/x")).json()["port"] for _ in range(6)}
    assert ports == {9001, 9002}  # 9003 is still "initial": no traffic before a check


def test_refused_connection_is_retried_on_another_target() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 9001:
            raise httpx.ConnectError("refused")
        return port_echo(request)
    a = alb(handler)
    healthy(a.groups["backend-api"], 9001, 9002)
    for _ in range(4):
        resp = run(alb_call(a, "/api/v1/x", method="POST"))
        assert resp.status_code == 200 and resp.json()["port"] == 9002
    assert [t.port for t in a.groups["backend-api"].healthy()] == [9002]


def test_no_healthy_target_is_503_with_reason() -> None:
    a = alb(port_echo)
    resp = run(alb_call(a, "/api/v1/x"))
    assert resp.status_code == 503
    assert "no registered targets in target group backend-api" in resp.json()["reason"]


def test_mlflow_rule_strips_prefix_and_discovery_listener_routes_by_port() -> None:
    a = alb(port_echo)
    healthy(a.groups["mlflow"], 5000)
    healthy(a.groups["backend-api"], 8000)
    assert run(alb_call(a, "/mlflow/api/2.0/x")).json() == {"port": 5000, "path": "/api/2.0/x"}
    assert run(alb_call(a, "/anything", port=81)).json()["port"] == 8000
    assert run(alb_call(a, "/other")).status_code == 404


def test_health_checks_use_a_pool_of_their_own() -> None:
    """The traffic pool holds only traffic's connections: httpcore visits each pooled
    connection on every request, so the checks' connections would cost every request."""
    traffic, checks = [], []
    a = alb(lambda r: traffic.append(r) or httpx.Response(200))
    a.health_client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: checks.append(r) or httpx.Response(200)))
    group = a.groups["backend-api"]
    group.sync([Target(task_id="t", host="127.0.0.1", port=9001)])
    run(a._check(group, group.targets["t"]))
    assert [str(r.url) for r in checks] == ["http://127.0.0.1:9001/health"] and traffic == []
    assert group.targets["t"].state == HEALTHY


def test_health_thresholds() -> None:
    g = TargetGroup("g", "/health")
    g.sync([Target(task_id="t", host="h", port=1)])
    t = g.targets["t"]
    g.record_check(t, True, "200")
    assert t.state == HEALTHY  # first pass takes a new target in
    g.record_check(t, False, "500")
    assert t.state == HEALTHY  # one failure is not enough (threshold 2)
    g.record_check(t, False, "500")
    assert t.state == "unhealthy"
    g.record_check(t, True, "200")
    assert t.state == "unhealthy"
    g.record_check(t, True, "200")
    assert t.state == HEALTHY


def test_targets_follow_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    from tradai_sim.edge.discovery import running_targets

    class Ecs:
        def get_paginator(self, name: str) -> Any:
            class P:
                def paginate(self, **kw: Any) -> list[dict[str, Any]]:
                    return [{"taskArns": ["arn:aws:ecs:r:1:task/c/abc", "arn:.../def"]}]
            return P()

        def describe_tasks(self, **kw: Any) -> dict[str, Any]:
            binding = [{"networkBindings": [{"bindIP": "127.0.0.1", "hostPort": 7001}]}]
            return {"tasks": [
                {"taskArn": "arn:aws:ecs:r:1:task/c/abc", "group": "service:tradai-b",
                 "lastStatus": "RUNNING", "containers": binding},
                {"taskArn": "arn:.../def", "group": "family:x", "lastStatus": "RUNNING",
                 "containers": binding}]}
    found = running_targets(Ecs(), "c")
    assert list(found) == ["tradai-b"] and found["tradai-b"][0].port == 7001
    assert json.dumps(found["tradai-b"][0].url) == '"http://127.0.0.1:7001"'


# -- passthrough -----------------------------------------------------------------------------
class Chunks(httpx.AsyncByteStream):
    """An upstream body as it arrives on a socket: chunk by chunk, maybe failing midway."""

    def __init__(self, chunks: list[bytes], fail: bool = False) -> None:
        self.chunks, self.fail, self.closed = chunks, fail, False

    async def __aiter__(self) -> Any:
        for c in self.chunks:
            yield c
        if self.fail:
            raise httpx.ReadError("connection lost mid-body")

    async def aclose(self) -> None:
        self.closed = True


def upstream_response(stream: Chunks, headers: list[tuple[str, str]]) -> httpx.Response:
    return httpx.Response(200, headers=headers, stream=stream)


def test_a_small_answer_is_sent_whole_with_its_raw_body_and_headers() -> None:
    import gzip

    from starlette.responses import StreamingResponse
    raw = gzip.compress(b'{"ok": true}')
    stream = Chunks([raw[:5], raw[5:]])
    resp = run(proxy.passthrough(upstream_response(stream, [
        ("content-encoding", "gzip"), ("content-length", str(len(raw))),
        ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("connection", "keep-alive")])))
    assert not isinstance(resp, StreamingResponse) and resp.body == raw  # still encoded
    assert stream.closed
    assert resp.raw_headers == [(b"content-encoding", b"gzip"),
                                (b"content-length", str(len(raw)).encode()),
                                (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


@pytest.mark.parametrize("length", [None, str(proxy.BUFFER_BYTES + 1)])
def test_a_large_or_unsized_answer_is_streamed(length: str | None) -> None:
    from starlette.responses import StreamingResponse
    headers = [("content-length", length)] if length else []
    stream = Chunks([b"x"])
    resp = run(proxy.passthrough(upstream_response(stream, headers)))
    assert isinstance(resp, StreamingResponse) and not stream.closed


def test_an_upstream_lost_mid_body_is_502_not_500() -> None:
    def lost(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=[("content-length", "10")],
                              stream=Chunks([b"12345"], fail=True))
    gw = gateway(echo)
    gw.client = httpx.AsyncClient(transport=httpx.MockTransport(lost))
    resp = run(call(gw.app, "GET", "/api/v1/x", token(KEY)))
    assert resp.status_code == 502 and "ReadError" in resp.json()["reason"]
