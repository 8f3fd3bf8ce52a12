"""The gateway and ALB stand-ins in process: upstreams are local HTTP servers
(``tests.http_stub``), tokens are signed by keys of our own (so expiry can be tested), the
clock is a fake."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.responses import StreamingResponse

from tests.http_stub import Reply, Seen, Server, http_server
from tests.unit.test_backend_fixtures import CLIENT, ISSUER, jwks_of, rsa_key, token
from tradai.clock import Clock
from tradai.services.backend_api.auth import JwksCache, TokenVerifier
from tradai_sim.edge import proxy, upstream
from tradai_sim.edge.alb import Alb, AlbConfig
from tradai_sim.edge.gateway import Gateway, GatewayConfig
from tradai_sim.edge.ratelimit import SlidingWindowLimiter
from tradai_sim.edge.targets import HEALTHY, Target, TargetGroup
from tradai_sim.ports import free_port  # nothing listens, and no stack will bind it

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


def with_pool(edge: Any, timeout: float = 5.0) -> Any:
    """The edge's traffic pool is made by its lifespan startup, which these calls do not run;
    each call (its own event loop: a pool's connections belong to the loop that opened them)
    gets a fresh one."""
    inner = edge.app

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        edge.client = upstream.Pool(timeout)
        try:
            await inner(scope, receive, send)
        finally:
            await edge.client.aclose()
    edge.app = app
    return edge


def gateway(upstream_url: str, limit: int = 100, timeout: float = 5.0) -> Gateway:
    cfg = GatewayConfig(port=0, upstream=upstream_url, region="eu-central-1",
                        user_pool_id="pool", client_id=CLIENT, rate_limit_requests=limit)
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache(lambda: jwks_of(KEY, "k1")))
    return with_pool(Gateway(cfg, clock=FakeClock(), verifier=verifier), timeout)


@contextlib.contextmanager
def silent_server() -> Iterator[Server]:
    """Accepts, reads the request, never answers (until the block ends)."""
    release = threading.Event()

    def hang(seen: Seen) -> Reply:
        release.wait(10)
        return Reply(200)
    with http_server(hang) as server:
        try:
            yield server
        finally:
            release.set()


async def call(app: Any, method: str, path: str, tok: str | None = None,
               **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", {})
    if tok:
        headers["Authorization"] = f"Bearer {tok}"
    transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        return await c.request(method, path, headers=headers, **kw)


def echo(seen: Seen) -> Reply:
    return Reply(201, [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-upstream", "yes"),
                       ("content-type", "application/json")],
                 json.dumps({"method": seen.method, "path": seen.path,
                             "body": seen.body.decode(), "headers": seen.headers}).encode())


@pytest.fixture
def echo_server() -> Iterator[Server]:
    with http_server(echo) as server:
        yield server


def test_gateway_forwards_faithfully(echo_server: Server) -> None:
    gw = gateway(echo_server.url)
    resp = run(call(gw.app, "PUT", "/api/v1/things/7?x=1&x=2", token(KEY), content=b"payload",
                    headers={"x-custom": "v", "content-type": "text/plain"}))
    assert resp.status_code == 201
    assert resp.headers.get_list("set-cookie") == ["a=1", "b=2"]
    seen = resp.json()
    assert seen["method"] == "PUT" and seen["body"] == "payload"
    assert seen["path"] == "/api/v1/things/7?x=1&x=2"
    assert seen["headers"]["x-custom"] == "v" and seen["headers"]["x-forwarded-for"] == "10.0.0.9"
    assert seen["headers"]["host"] == f"127.0.0.1:{echo_server.port}"
    assert seen["headers"]["via"] == "1.1 tradai-gateway"
    assert seen["headers"]["content-length"] == "7"
    assert seen["headers"]["authorization"].startswith("Bearer ")  # the backend re-validates


def test_expired_token_is_401(echo_server: Server) -> None:
    import time
    resp = run(call(gateway(echo_server.url).app, "GET", "/api/v1/x",
                    token(KEY, exp=int(time.time()) - 100)))
    assert resp.status_code == 401 and resp.json()["reason"] == "token expired"


def test_rate_limit_per_subject(echo_server: Server) -> None:
    gw = gateway(echo_server.url, limit=2)
    codes = [run(call(gw.app, "GET", "/api/v1/x", token(KEY))).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert run(call(gw.app, "GET", "/api/v1/x", token(KEY, sub="other"))).status_code == 201


def test_unrouted_path_is_404_not_forwarded(echo_server: Server) -> None:
    resp = run(call(gateway(echo_server.url).app, "GET", "/api/v2/x", token(KEY)))
    assert resp.status_code == 404 and "no route" in resp.json()["reason"]
    assert echo_server.seen == []


def test_an_unreachable_load_balancer_is_503() -> None:
    resp = run(call(gateway(f"http://127.0.0.1:{free_port()}").app, "GET", "/api/v1/x",
                    token(KEY)))
    assert resp.status_code == 503
    assert resp.json()["reason"] == "the load balancer is unreachable"


def test_a_silent_load_balancer_is_504_after_the_timeout() -> None:
    with silent_server() as server:
        resp = run(call(gateway(server.url, timeout=0.3).app, "GET", "/api/v1/x", token(KEY)))
    assert resp.status_code == 504
    assert resp.json()["reason"] == "the load balancer did not answer in time"


@pytest.mark.parametrize("framing", ["drop", "cut"])
def test_a_connection_lost_before_the_whole_answer_is_502(framing: str) -> None:
    """Closed without an answer, or in the middle of a body of declared length: nothing
    has been answered yet, so the client gets a 502 that says why, never a 500."""
    with http_server(lambda seen: Reply(200, body=b"0123456789", framing=framing)) as server:
        resp = run(call(gateway(server.url).app, "GET", "/api/v1/x", token(KEY)))
    assert resp.status_code == 502
    assert resp.json()["reason"] == "the load balancer failed: ConnectionLost"


# -- ALB -------------------------------------------------------------------------------------
def alb() -> Alb:
    cfg = AlbConfig.model_validate({
        "main_port": 80, "discovery_ports": {"backend-api": 81}, "cluster": "c",
        "region": "eu-central-1",
        "services": {"backend-api": {"ecs_service": "b"}, "mlflow": {"ecs_service": "m"}},
        "rules": [{"prefix": "/api/v1", "service": "backend-api"},
                  {"prefix": "/mlflow", "service": "mlflow", "strip_prefix": True}]})
    return with_pool(Alb(cfg, clock=FakeClock(), ecs=object()))


def healthy(group: TargetGroup, *ports: int) -> None:
    group.sync([Target(task_id=f"t{p}", host="127.0.0.1", port=p) for p in ports])
    for t in group.targets.values():
        t.state = HEALTHY


@contextlib.contextmanager
def port_echoes(n: int) -> Iterator[list[Server]]:
    """``n`` targets, each answering with its own port and the path it was asked for."""
    with contextlib.ExitStack() as stack:
        servers: list[Server] = []
        for _ in range(n):
            holder: list[Server] = []
            server = stack.enter_context(http_server(
                lambda seen, h=holder: Reply(200, body=json.dumps(
                    {"port": h[0].port, "path": seen.path}).encode())))
            holder.append(server)
            servers.append(server)
        yield servers


async def alb_call(a: Alb, path: str, port: int = 80, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=a.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://alb.test:{port}") as c:
        return await c.request(method, path)


def test_round_robin_over_healthy_targets_only() -> None:
    a = alb()
    with port_echoes(3) as (one, two, three):
        healthy(a.groups["backend-api"], one.port, two.port)
        a.groups["backend-api"].sync([*a.groups["backend-api"].targets.values(),
                                      Target(task_id="new", host="127.0.0.1", port=three.port)])
        ports = [run(alb_call(a, "/api/v1/x")).json()["port"] for _ in range(6)]
    assert sorted(ports) == sorted([one.port, two.port] * 3)  # alternating, evenly
    assert three.seen == []  # still "initial": no traffic before a check


def test_refused_connection_is_retried_on_another_target() -> None:
    a = alb()
    dead = free_port()
    with port_echoes(1) as (live,):
        healthy(a.groups["backend-api"], dead, live.port)
        for _ in range(4):
            resp = run(alb_call(a, "/api/v1/x", method="POST"))
            assert resp.status_code == 200 and resp.json()["port"] == live.port
    assert [t.port for t in a.groups["backend-api"].healthy()] == [live.port]
    reason = a.groups["backend-api"].targets[f"t{dead}"].reason
    assert reason.startswith("connection refused (") and str(dead) in reason


@pytest.mark.parametrize(("method", "resent"), [("GET", True), ("POST", False)])
def test_a_connection_lost_is_resent_only_when_the_method_is_idempotent(
        method: str, resent: bool) -> None:
    """The request reached a target that closed without answering: a POST may have been
    acted on, so it is not sent again (502); a GET goes to another target."""
    a = alb()
    with http_server(lambda seen: Reply(framing="drop")) as dropping, port_echoes(1) as (live,):
        healthy(a.groups["backend-api"], dropping.port, live.port)
        a.groups["backend-api"]._rr = iter(range(10**6))  # type: ignore[assignment]
        resp = run(alb_call(a, "/api/v1/x", method=method))
        assert len(dropping.seen) == 1
        assert len(live.seen) == (1 if resent else 0)
    assert resp.status_code == (200 if resent else 502)
    if not resent:
        assert resp.json()["reason"] == f"target t{dropping.port} failed: ConnectionLost"
    assert a.groups["backend-api"].targets[f"t{dropping.port}"].state == "unhealthy"


def test_no_healthy_target_is_503_with_reason() -> None:
    a = alb()
    resp = run(alb_call(a, "/api/v1/x"))
    assert resp.status_code == 503
    assert "no registered targets in target group backend-api" in resp.json()["reason"]


def test_mlflow_rule_strips_prefix_and_discovery_listener_routes_by_port() -> None:
    a = alb()
    with port_echoes(2) as (mlflow, backend):
        healthy(a.groups["mlflow"], mlflow.port)
        healthy(a.groups["backend-api"], backend.port)
        assert run(alb_call(a, "/mlflow/api/2.0/x")).json() == {"port": mlflow.port,
                                                                 "path": "/api/2.0/x"}
        assert run(alb_call(a, "/anything", port=81)).json()["port"] == backend.port
        assert run(alb_call(a, "/other")).status_code == 404


def test_health_checks_do_not_go_through_the_traffic_pool() -> None:
    """The checks have an httpx client of their own; the traffic pool serves requests only."""
    class TrafficOnly(upstream.Pool):
        async def request(self, *args: Any, **kwargs: Any) -> upstream.Answer:
            raise AssertionError("a health check went through the traffic pool")

    a = Alb(alb().config, clock=FakeClock(), ecs=object())
    a.client = TrafficOnly(5)
    with port_echoes(1) as (target,):
        async def check() -> None:
            a.health_client = proxy.client(5)
            await a._check(group, group.targets["t"])
            await a.health_client.aclose()
        group = a.groups["backend-api"]
        group.sync([Target(task_id="t", host="127.0.0.1", port=target.port)])
        run(check())
    assert [s.path for s in target.seen] == ["/health"]
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
async def forwarded(server: Server) -> tuple[Any, upstream.Answer]:
    """What ``passthrough`` makes of the server's answer to a GET, and the answer."""
    pool = upstream.Pool(5)
    answer = await pool.request("GET", server.url + "/x", [])
    response = await proxy.passthrough(answer)
    await pool.aclose()
    return response, answer


def test_a_small_answer_is_sent_whole_with_its_raw_body_and_headers() -> None:
    raw = gzip.compress(b'{"ok": true}')
    headers = [("Content-Encoding", "gzip"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
               ("Connection", "keep-alive")]
    with http_server(lambda seen: Reply(200, headers, raw)) as server:
        resp, _ = run(forwarded(server))
    assert not isinstance(resp, StreamingResponse) and resp.body == raw  # still encoded
    kept = [(k, v) for k, v in resp.raw_headers if k not in (b"server", b"date")]
    assert kept == [(b"content-encoding", b"gzip"), (b"set-cookie", b"a=1"),
                    (b"set-cookie", b"b=2"), (b"content-length", str(len(raw)).encode())]


@pytest.mark.parametrize(("size", "framing"), [(10, "close"), (10, "chunked"),
                                               (proxy.BUFFER_BYTES + 1, "length")])
def test_a_large_or_unsized_answer_is_streamed(size: int, framing: str) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)

    async def streamed(server: Server) -> bytes:
        resp, answer = await forwarded(server)
        assert isinstance(resp, StreamingResponse)
        data = b"".join([chunk async for chunk in resp.body_iterator])  # type: ignore[misc]
        answer.close()
        return data
    with http_server(lambda seen: Reply(200, body=body, framing=framing)) as server:
        assert run(streamed(server)) == body
