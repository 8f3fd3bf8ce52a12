"""A local HTTP server for tests and benchmarks that need something to answer GETs: on a port
the OS picks, HTTP/1.1 keep-alive, each request's path, client port and headers recorded, stopped
(and its thread joined) when the block ends."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Answer = Callable[[str], bytes]  # the request's path -> the 200 response's JSON body


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, int]] = field(default_factory=list)  # (path, client port)
    headers: list[dict[str, str]] = field(default_factory=list)  # each request's headers


@contextlib.contextmanager
def json_server(answer: Answer) -> Iterator[Stub]:
    stub = Stub(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the servers it stands in for

        def do_GET(self) -> None:
            stub.requests.append((self.path, self.client_address[1]))
            stub.headers.append(dict(self.headers))
            body = answer(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
