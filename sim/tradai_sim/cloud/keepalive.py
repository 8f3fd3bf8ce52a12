"""A WSGI request handler that keeps HTTP/1.1 connections open, as AWS's endpoints do.

Werkzeug's development server answers every request with ``Connection: close`` because it
cannot tell where a request's body ends (it drains whatever the socket holds, which on a
kept-alive connection would be the next request). Here the body is read exactly: a
``Content-Length`` body through a ``LimitedStream`` of that length, a chunked one up to its
last chunk, and whatever the application left unread is drained before the next request
line. Responses carry their length or are chunked, so the client can reuse the connection.

Why it matters: every AWS SDK keeps connections alive (urllib3 pools in botocore; the SDKs'
documentation: https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/node-reusing-connections.html).
With ``close`` each call paid a TCP connect, a splice in the VPC router and a new emulator
thread; the gateway benchmark put that at about half the CPU of a backtest submission.
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import DechunkedInput
from werkzeug.wsgi import LimitedStream

# An idle kept-alive connection is closed after this many seconds (its thread ends); clients
# reconnect transparently (urllib3 checks a pooled connection before reuse). AWS closes idle
# connections too, so SDKs are built for it.
IDLE_TIMEOUT_S = 120.0
NO_BODY_STATUSES = {204, 304}


class KeepAliveRequestHandler(MotoRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    # The head and the body leave in separate writes. With Nagle's algorithm on, the body
    # waits for the ACK of the head, which the client delays (40 ms on Linux) on a kept-alive
    # connection: every call took 45-90 ms. Closing the connection used to flush it.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        self.environ = environ
        body = self._body(environ)
        state: dict[str, Any] = {"status": None, "headers": None, "sent": False,
                                 "chunked": False}

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Any:
            if exc_info is not None and state["sent"]:
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"], state["headers"] = status, headers
            return write

        def send_head() -> None:
            status: str = state["status"]
            code, _, msg = status.partition(" ")
            self.send_response(int(code), msg)
            keys = set()
            for key, value in state["headers"]:
                lower = key.lower()
                if lower == "connection":
                    continue  # this handler decides whether the connection stays
                keys.add(lower)
                self.send_header(key, value)
            if not ("content-length" in keys or environ["REQUEST_METHOD"] == "HEAD"
                    or 100 <= int(code) < 200 or int(code) in NO_BODY_STATUSES):
                state["chunked"] = True
                self.send_header("Transfer-Encoding", "chunked")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            state["sent"] = True

        def write(data: bytes) -> None:
            if not state["sent"]:
                send_head()
            if not data:
                return
            if state["chunked"]:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            self.wfile.flush()

        def execute(app: Any) -> None:
            result = app(environ, start_response)
            try:
                for data in result:
                    write(data)
                if not state["sent"]:
                    write(b"")
                if state["chunked"]:
                    self.wfile.write(b"0\r\n\r\n")
            finally:
                if hasattr(result, "close"):
                    result.close()

        try:
            execute(self.server.app)
            self._drain(body)
        except (TimeoutError, ConnectionError) as exc:
            self.close_connection = True
            self.connection_dropped(exc, environ)
        except Exception as exc:  # answered as a 500, as werkzeug does
            self.close_connection = True
            self.server.log("error", f"Error on request: {type(exc).__name__}: {exc}")
            if not state["sent"]:
                with contextlib.suppress(Exception):
                    state["status"] = state["headers"] = None
                    execute(InternalServerError())

    def _body(self, environ: dict[str, Any]) -> Any:
        """The request body, bounded: where it ends is where the next request starts."""
        if isinstance(environ["wsgi.input"], DechunkedInput):
            return environ["wsgi.input"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
            self.close_connection = True  # an unreadable length: this connection ends here
        stream = LimitedStream(self.rfile, max(length, 0))
        environ["wsgi.input"] = stream
        return stream

    def _drain(self, body: Any) -> None:
        """Read what the application left of the body, so the next request line is next."""
        if isinstance(body, LimitedStream):
            body.exhaust()
            return
        while body.read(65536):
            pass
