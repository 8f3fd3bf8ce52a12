"""HTTP transport: a threading HTTP/1.1 server (keep-alive) in front of :class:`ExchangeApp`.

The standard library server is enough here (sub-millisecond overhead per request, no event
loop), and it can drop a connection on demand, which the ``close`` outage mode needs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tradai.clock import Clock
from tradai_sim.exchange.app import ExchangeApp, make_app
from tradai_sim.exchange.market import Market
from tradai_sim.exchange.ratelimit import BINANCE_WEIGHT_PER_MINUTE

log = logging.getLogger("tradai_sim.exchange")

# ccxt 4.5.90's binance ``urls["api"]`` families and their paths.
CCXT_API_PATHS: dict[str, str] = {
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: CCXT's sessions reuse connections
    server_version = "tradai-exchange"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection frees its thread after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK
        # add ~40 ms to every small response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.app.handle(method, url.path, params, headers, body, url.query)
        if response.close:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: ExchangeApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every keep-alive connection, so a stopped server really stops answering."""
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ExchangeServer:
    """The exchange on ``host:port`` (port 0 picks a free one), served from a thread."""

    def __init__(self, app: ExchangeApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._httpd = _HTTPServer((host, port), app)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ccxt_urls(self) -> dict[str, Any]:
        """CCXT ``urls`` for Binance with every API family sent here, paths kept.

        ``public`` and ``private`` (``/api/v3``) are served, and the few ``sapi`` calls CCXT
        makes with a key; a call to any other family still lands here (a counted 404) instead
        of leaving for the real internet.
        """
        return {"api": {name: self.url + path for name, path in CCXT_API_PATHS.items()}}

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> ExchangeServer:
        self._thread = threading.Thread(target=self.serve_forever, name="exchange", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ExchangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(
    market: Market,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock | None = None,
    weight_per_minute: int | None = BINANCE_WEIGHT_PER_MINUTE,
    require_header: str | None = None,
    egress_token: str | None = None,
    state_file: Path | None = None,
) -> ExchangeServer:
    """An exchange server over ``market`` (not started: call ``start()`` or use ``with``).

    ``state_file``: accounts, orders and trades persist there across restarts."""
    app = make_app(market, clock, weight_per_minute, require_header, egress_token, state_file)
    return ExchangeServer(app, host, port)
