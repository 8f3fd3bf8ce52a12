"""An egress process: a NAT instance, or the internet gateway's way out (an HTTP forward proxy).

``python -m tradai_sim.vpc.egress --identity nat:i-0abc --ready-file F``

Clients send absolute-URI requests (CCXT's ``httpProxy``); each is forwarded to its origin with
the egress mark added (identity + the stack's token from ``TRADAI_SIM_EGRESS_TOKEN``), and the
answer is returned. One process per running NAT instance: when the instance stops, the process
is killed and whatever was routed through it fails for real.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tradai_sim.vpc.marks import EGRESS_HEADER, EGRESS_TOKEN_ENV, EGRESS_TOKEN_HEADER

log = logging.getLogger("tradai_sim.vpc.egress")

# Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; the body is re-framed by length.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})
UPSTREAM_TIMEOUT_S = 30.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client, as CCXT's sessions expect
    server_version = "tradai-egress"
    sys_version = ""
    timeout = 120
    server: EgressServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.upstreams: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def finish(self) -> None:
        for conn in self.upstreams.values():
            conn.close()
        super().finish()

    def log_message(self, fmt: str, *args: object) -> None:  # one line per request is noise
        log.debug(fmt, *args)

    def do_CONNECT(self) -> None:
        self._answer(501, "CONNECT is not supported: the local internet is plain HTTP")

    def _forward(self) -> None:
        url = urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            self._answer(400, f"not a proxy request (absolute http:// URI expected): {self.path}")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers[EGRESS_HEADER] = self.server.identity
        headers[EGRESS_TOKEN_HEADER] = self.server.token
        target = url.path + (f"?{url.query}" if url.query else "") or "/"
        key = (url.hostname, url.port or 80)
        try:
            resp = self._send(key, target, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.upstreams.pop(key, None)
            self._answer(502, f"{self.server.identity} could not reach {key[0]}:{key[1]}: "
                              f"{type(exc).__name__}: {exc}")
            return
        payload = resp.read()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.server.count(resp.status)

    def _send(self, key: tuple[str, int], target: str, body: bytes | None,
              headers: dict[str, str]) -> http.client.HTTPResponse:
        for attempt in (0, 1):  # a pooled upstream connection may have been closed meanwhile
            conn = self.upstreams.get(key)
            if conn is None:
                conn = self.upstreams[key] = http.client.HTTPConnection(
                    key[0], key[1], timeout=UPSTREAM_TIMEOUT_S)
            try:
                conn.request(self.command, target, body=body, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self.upstreams.pop(key, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _answer(self, status: int, reason: str) -> None:
        body = reason.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.count(status)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _forward


class EgressServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], identity: str, token: str) -> None:
        self.identity = identity
        self.token = token
        self.statuses: dict[int, int] = {}
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def count(self, status: int) -> None:
        with self._lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tradai-egress")
    ap.add_argument("--identity", required=True, help="nat:<instance id> or igw")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    token = os.environ.get(EGRESS_TOKEN_ENV, "")
    if not token:
        print(f"error: {EGRESS_TOKEN_ENV} is not set", file=sys.stderr)
        return 2
    server = EgressServer((args.host, args.port), args.identity, token)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    port = server.server_address[1]
    tmp = args.ready_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": port, "pid": os.getpid(), "identity": args.identity}))
    tmp.replace(args.ready_file)
    log.info("%s forwarding on %s:%s", args.identity, args.host, port)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
