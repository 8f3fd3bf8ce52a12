"""Local HTTP servers for tests and benchmarks: on a port the OS picks, HTTP/1.1 keep-alive,
every request recorded, stopped (and its thread joined) when the block ends.

``http_server(reply)`` answers each request with what ``reply`` returns, framed as asked
(``Content-Length``, chunked, until the connection closes, or cut short midway), and counts
the connections it accepted; ``json_server(answer)`` answers GETs with a JSON body."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Answer = Callable[[str], bytes]  # the request's path -> the 200 response's JSON body


@dataclass
class Seen:
    method: str
    path: str  # with the query
    headers: dict[str, str]  # names lower-cased
    body: bytes
    client_port: int


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # length: Content-Length; chunked: Transfer-Encoding (two chunks); close: no length, the
    # body ends with the connection; cut: Content-Length, half the body, then the close;
    # drop: the connection closed without an answer
    framing: Literal["length", "chunked", "close", "cut", "drop"] = "length"


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0  # accepted so far

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def http_server(reply: Callable[[Seen], Reply]) -> Iterator[Server]:
    server = Server(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the servers it stands in for

        def setup(self) -> None:
            server.connections += 1
            super().setup()

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                        body, self.client_address[1])
            server.seen.append(seen)
            out = reply(seen)
            if out.framing == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.send_response(out.status)
            for k, v in out.headers:
                self.send_header(k, v)
            if out.framing == "chunked":
                self.send_header("Transfer-Encoding", "chunked")
            elif out.framing == "close":
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(out.body)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if out.framing == "chunked":
                half = len(out.body) // 2
                for part in (out.body[:half], out.body[half:]):
                    if part:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif out.framing == "cut":
                self.wfile.write(out.body[:len(out.body) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            else:
                self.wfile.write(out.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, client port)
    headers: list[dict[str, str]] = field(default_factory=list)  # each request's headers


@contextlib.contextmanager
def json_server(answer: Answer) -> Iterator[Stub]:
    stub = Stub(url="")

    def reply(seen: Seen) -> Reply:
        stub.requests.append((seen.path, seen.client_port))
        stub.headers.append(seen.headers)
        return Reply(headers=[("Content-Type", "application/json")], body=answer(seen.path))

    with http_server(reply) as server:
        stub.url = server.url
        yield stub
