"""Forwarding an HTTP request faithfully (method, path, query, body, status, headers) and
answering upstream failures with a 502/503/504 that says why, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tradai_sim.edge import upstream

# RFC 9110 section 7.6.1 connection-specific fields: never forwarded by a proxy.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade",
                        "proxy-connection"})
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
BUFFER_BYTES = 256 * 1024  # answers up to this (by Content-Length) are read, then sent whole


class BodyTooLarge(Exception):
    pass


def error(status: int, message: str, reason: str,
          headers: dict[str, str] | None = None) -> Response:
    """An edge-generated answer, shaped like API Gateway's ``{"message": ...}``."""
    return Response(json.dumps({"message": message, "reason": reason}), status_code=status,
                    media_type="application/json", headers=headers)


async def read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def forward_headers(request: Request, hop: str) -> list[tuple[str, str]]:
    """The request's headers minus hop-by-hop ones and Host, plus X-Forwarded-*."""
    out = [(k, v) for k, v in request.headers.items()
           if k not in HOP_BY_HOP and k not in ("host", "content-length")]
    client = request.client.host if request.client else "unknown"
    prior = request.headers.get("x-forwarded-for")
    out = [(k, v) for k, v in out if not k.startswith("x-forwarded-")]
    out += [("x-forwarded-for", f"{prior}, {client}" if prior else client),
            ("x-forwarded-proto", request.url.scheme),
            ("x-forwarded-host", request.headers.get("host", "")),
            ("via", f"1.1 {hop}")]
    return out


async def send(pool: upstream.Pool, request: Request, url: str, body: bytes,
               hop: str, replace: dict[str, str] | None = None) -> upstream.Answer:
    """Send upstream and return the answer with its body still unread. ``replace`` overrides
    request headers by (lower-case) name, as an integration's header mapping does."""
    headers = forward_headers(request, hop)
    if replace:
        headers = [(k, v) for k, v in headers if k.lower() not in replace]
        headers += list(replace.items())
    query = request.url.query
    return await pool.request(request.method, f"{url}?{query}" if query else url, headers,
                              body)


async def passthrough(answer: upstream.Answer) -> Response:
    """The upstream answer as it is: status, every header (repeated ones too), raw (still
    encoded) body. A body of known small length is read here and answered in one piece;
    others are streamed. Streaming costs a task group and a disconnect listener per response
    (Starlette's StreamingResponse), which is most of a small answer's cost at the edge.
    May raise upstream.UpstreamError while reading a small body (nothing has been answered
    yet)."""
    headers = [(k, v) for k, v in answer.headers if k.decode("latin-1") not in HOP_BY_HOP]
    response: Response
    if answer.length is not None and answer.length <= BUFFER_BYTES:
        try:
            body = await answer.read()
        finally:
            answer.close()
        response = Response(body, status_code=answer.status)
    else:
        response = StreamingResponse(answer.chunks(), status_code=answer.status,
                                     background=BackgroundTask(answer.close))
    response.raw_headers = headers
    return response


def upstream_failure(exc: upstream.UpstreamError, what: str) -> Response:
    if isinstance(exc, upstream.TimedOut):
        return error(504, "Gateway Timeout", f"{what} did not answer in time")
    if isinstance(exc, upstream.ConnectFailed):
        return error(503, "Service Unavailable", f"{what} is unreachable")
    return error(502, "Bad Gateway", f"{what} failed: {type(exc).__name__}")


def client(timeout: float, max_connections: int = 200) -> httpx.AsyncClient:
    """An httpx client, for what is not traffic (the ALB's health checks)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=50),
        trust_env=False)  # a proxy from the environment must never sit on the edge path


def lifespan_app(handle: Any, startup: Any, shutdown: Any) -> Any:
    """A bare ASGI app: ``handle(request) -> Response`` plus lifespan hooks."""
    async def app(scope: dict[str, Any], receive: Any, send_: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await startup()
                    await send_({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await shutdown()
                    await send_({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        response = await handle(Request(scope, receive))
        await response(scope, receive, send_)
    return app
