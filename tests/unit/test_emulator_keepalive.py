"""The emulator's request handler keeps connections open and never reads into the next request.

AWS endpoints keep HTTP/1.1 connections alive and the SDKs reuse them by default
(https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/node-reusing-connections.html;
botocore pools its connections in urllib3), so the emulator does too.

Real sockets against a threaded werkzeug server with ``KeepAliveRequestHandler``: several
requests on one connection, bodies the application reads, half reads or ignores, a chunked
request, a response without a length (sent chunked), HEAD, and ``Connection: close``.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from werkzeug.serving import make_server

from tradai_sim.cloud.keepalive import KeepAliveRequestHandler


def app(environ: dict[str, Any], start_response: Any) -> Any:
    path, stream = environ["PATH_INFO"], environ["wsgi.input"]
    if path == "/echo":
        body = stream.read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/half":  # reads part of the body: the rest must not become the next request
        body = stream.read(3)
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/ignore":
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
    if path == "/stream":  # no length: the handler sends it chunked
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one,", b"two,", b"three"]
    if path == "/nodelay":  # the server side of this connection: is Nagle's algorithm off?
        sock = environ["werkzeug.socket"]
        body = str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/boom":
        raise RuntimeError("broken app")
    start_response("200 OK", [("Content-Length", "5"), ("Connection", "close")])
    return [b"hello"]


@pytest.fixture
def port() -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=KeepAliveRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    thread.join(timeout=5)


def _ask(c: http.client.HTTPConnection, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes, str | None]:
    headers = headers or {}
    c.request(method, path, body=body, headers=headers,
              encode_chunked=headers.get("Transfer-Encoding") == "chunked")
    r = c.getresponse()
    return r.status, r.read(), r.getheader("Connection")


def test_one_connection_carries_many_requests_whatever_the_app_reads(port: int) -> None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert _ask(c, "POST", "/echo", b"abc") == (200, b"abc", None)
    sock = c.sock
    assert _ask(c, "POST", "/half", b"abcdefGET /evil HTTP/1.1\r\n\r\n") == (200, b"abc", None)
    assert _ask(c, "POST", "/ignore", b"x" * 100_000) == (200, b"ok", None)
    assert _ask(c, "POST", "/echo", iter([b"chunk-1;", b"chunk-2"]),
                {"Transfer-Encoding": "chunked"}) == (200, b"chunk-1;chunk-2", None)
    assert _ask(c, "GET", "/stream") == (200, b"one,two,three", None)
    assert _ask(c, "HEAD", "/echo")[0] == 200
    assert _ask(c, "POST", "/echo", b"still in step") == (200, b"still in step", None)
    assert c.sock is sock  # the same socket all along: nothing closed it


def test_the_app_or_the_client_can_still_close(port: int) -> None:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert _ask(c, "GET", "/", headers={"Connection": "close"}) == (200, b"hello", "close")
    assert c.sock is None  # http.client closed it, as the server said
    status, body, connection = _ask(c, "GET", "/boom")
    assert (status, connection) == (500, "close") and b"Internal Server Error" in body


def test_botocore_reuses_its_connection(port: int) -> None:
    """An SDK client's second call goes over the first call's connection."""
    accepted: list[int] = []
    original = KeepAliveRequestHandler.setup

    def counting_setup(self: KeepAliveRequestHandler) -> None:
        accepted.append(1)
        original(self)

    KeepAliveRequestHandler.setup = counting_setup  # type: ignore[method-assign]
    try:
        client = boto3.client("sts", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="eu-central-1", aws_access_key_id="k",
                              aws_secret_access_key="s")
        for _ in range(3):
            with pytest.raises(Exception):  # noqa: B017 - the toy app is no STS
                client.get_caller_identity()
    finally:
        KeepAliveRequestHandler.setup = original  # type: ignore[method-assign]
    assert len(accepted) == 1


def test_the_answer_is_not_held_back_by_nagles_algorithm(port: int) -> None:
    """The head and the body are separate writes; with Nagle's algorithm the body waited for
    the client's delayed ACK of the head (40 ms on Linux), on every call of a kept-alive
    connection (measured: 45-90 ms for an SQS ListQueues, 2-9 ms without). The accepted
    socket has TCP_NODELAY, as urllib3 sets on its own side."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for _ in range(2):  # and still on the kept connection
        status, body, _ = _ask(c, "GET", "/nodelay")
        assert status == 200 and int(body) != 0
