"""The edge's HTTP/1.1 client for traffic: kept-alive connections per upstream, on asyncio
streams.

The gateway and the ALB stand-ins forward every request once each. Through httpx (its request
and response models, httpcore's pool, anyio's streams) that forward cost more than half of
each proxy's CPU per request; this client does the one thing a proxy needs: send the bytes,
read the answer's head, frame its body (``Content-Length``, chunked, or until the connection
closes), and keep the connection for the next request when HTTP/1.1 allows it
(``benchmarks/bench_edge_client.py`` compares the two).

Failures come as three kinds, which the proxies turn into 503, 504 and 502 (``proxy``):
``ConnectFailed`` (nothing was delivered), ``TimedOut``, ``ConnectionLost`` (the connection
closed or broke before or while the answer was read, or the answer was not HTTP).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from functools import lru_cache
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024  # a longer status line plus headers is refused
READ_BYTES = 64 * 1024
NO_BODY_STATUS = frozenset({204, 304})


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer properly."""


class ConnectFailed(UpstreamError):
    """No connection: refused, unreachable, reset while connecting. Nothing was sent."""


class TimedOut(UpstreamError):
    """No connection, or no answer (or the rest of it), within the timeout."""


class ConnectionLost(UpstreamError):
    """The connection closed or broke before the answer was complete, or the answer was not
    valid HTTP/1.1."""


@lru_cache(maxsize=1024)
def origin(url: str) -> tuple[str, int, str]:
    """(host, port, path and query) of an ``http://`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http:// URL: {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.hostname, parts.port or 80, target


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = 0.0

    def usable(self, expiry: float) -> bool:
        """Still open, nothing unasked-for waiting on it, not idle past the expiry (the
        upstream's own keep-alive timeout would close it under a request)."""
        return (not self.writer.is_closing() and not self.reader.at_eof()
                and not self.reader._buffer  # type: ignore[attr-defined]
                and time.monotonic() - self.idle_since < expiry)

    def close(self) -> None:
        self.writer.close()


class Answer:
    """An upstream answer: status and headers read, body not yet. Read it whole (``read``) or
    in pieces (``chunks``); either gives the connection back to the pool once the body is
    complete. ``close`` drops the connection if the body was not read to its end."""

    def __init__(self, pool: Pool, key: tuple[str, int], conn: Connection, status: int,
                 headers: list[tuple[bytes, bytes]], length: int | None, chunked: bool,
                 reusable: bool, timeout: float) -> None:
        self.status, self.headers = status, headers
        self.length = length  # None: chunked or until the connection closes
        self._pool, self._key, self._conn = pool, key, conn
        self._chunked, self._reusable, self._timeout = chunked, reusable, timeout
        self._done = length == 0

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            if self.length is not None:
                left = self.length
                while left:
                    data = await self._read(self._conn.reader.read(min(left, READ_BYTES)))
                    if not data:
                        raise ConnectionLost(f"the connection closed {left} bytes before the "
                                             "end of the answer")
                    left -= len(data)
                    yield data
            elif self._chunked:
                async for data in self._dechunk():
                    yield data
            else:  # delimited by the connection's close
                while data := await self._read(self._conn.reader.read(READ_BYTES)):
                    yield data
            self._done = True
        finally:
            self.close()

    async def _dechunk(self) -> AsyncIterator[bytes]:
        reader = self._conn.reader
        while True:
            line = await self._read(reader.readline())
            if not line:
                raise ConnectionLost("the connection closed before the end of the answer")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ConnectionLost(f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while (await self._read(reader.readline())) not in (b"\r\n", b"\n", b""):
                    pass  # trailers: dropped, as the proxies drop them
                return
            data = await self._read(reader.readexactly(size + 2))
            yield data[:-2]

    async def _read(self, op: object) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await op  # type: ignore[misc,no-any-return]
        except TimeoutError:
            raise TimedOut(f"no data from the upstream in {self._timeout:g} s") from None
        except asyncio.IncompleteReadError:
            raise ConnectionLost("the connection closed before the end of the answer") from None
        except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
            raise ConnectionLost(f"reading the answer failed: {exc!r}") from None

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if self._done and self._reusable:
            self._pool.release(self._key, conn)
        else:
            conn.close()


class Pool:
    """Connections per (host, port), kept for reuse up to ``max_idle`` each and
    ``keepalive_expiry`` seconds idle (under uvicorn's 5 s keep-alive timeout)."""

    def __init__(self, timeout: float, connect_timeout: float = 5.0,
                 keepalive_expiry: float = 4.0, max_idle: int = 50) -> None:
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.expiry, self.max_idle = keepalive_expiry, max_idle
        self._idle: defaultdict[tuple[str, int], deque[Connection]] = defaultdict(deque)

    async def request(self, method: str, url: str, headers: list[tuple[str, str]],
                      body: bytes = b"") -> Answer:
        """Send one request; the answer's head is read, its body left to the caller."""
        host, port, target = origin(url)
        key = (host, port)
        conn = await self._connection(key)
        head = [f"{method} {target} HTTP/1.1\r\nhost: {host if port == 80 else f'{host}:{port}'}"]
        head += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"content-length: {len(body)}")
        try:
            status, fields, version = await self._exchange(
                conn, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            length, chunked, reusable = _framing(method, status, fields, version)
        except BaseException:
            conn.close()  # in an unknown state (cancelled too): never reused
            raise
        answer = Answer(self, key, conn, status, fields, length, chunked, reusable, self.timeout)
        if length == 0:
            answer.close()  # nothing to read: the connection goes back at once
        return answer

    async def _exchange(self, conn: Connection, data: bytes
                        ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Write the request, read the final answer's head (interim 1xx ones skipped)."""
        try:
            conn.writer.write(data)
            async with asyncio.timeout(self.timeout):
                await conn.writer.drain()
                while True:
                    status, fields, version = _head(await conn.reader.readuntil(b"\r\n\r\n"))
                    if not 100 <= status < 200:
                        return status, fields, version
                    if status == 101:
                        raise ConnectionLost("the upstream switched protocols")
        except TimeoutError:
            raise TimedOut(f"no answer in {self.timeout:g} s") from None
        except asyncio.IncompleteReadError as exc:
            raise ConnectionLost("the upstream closed the connection without answering"
                                 if not exc.partial else "the answer's head was cut off") from None
        except asyncio.LimitOverrunError:
            raise ConnectionLost(f"the answer's head is over {MAX_HEAD_BYTES} bytes") from None
        except OSError as exc:
            raise ConnectionLost(f"the connection broke: {exc!r}") from None

    async def _connection(self, key: tuple[str, int]) -> Connection:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have expired
            if conn.usable(self.expiry):
                return conn
            conn.close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(*key, limit=MAX_HEAD_BYTES)
        except TimeoutError:
            raise TimedOut(f"no connection to {key[0]}:{key[1]} in "
                           f"{self.connect_timeout:g} s") from None
        except OSError as exc:
            why = os.strerror(exc.errno).lower() if exc.errno else repr(exc)
            raise ConnectFailed(f"connecting to {key[0]}:{key[1]} failed: {why}") from None
        return Connection(reader, writer)

    def release(self, key: tuple[str, int], conn: Connection) -> None:
        idle = self._idle[key]
        if len(idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()


def _head(data: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers (names lower-cased, repeated ones kept), version of an answer's head."""
    lines = data.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit():
        raise ConnectionLost(f"not an HTTP/1.1 status line: {lines[0][:60]!r}")
    fields = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise ConnectionLost(f"bad header line {line[:60]!r}")
        fields.append((name.lower(), value.strip()))
    return int(code), fields, version


def _framing(method: str, status: int, fields: list[tuple[bytes, bytes]], version: bytes
             ) -> tuple[int | None, bool, bool]:
    """How the answer's body ends: (its length, None if it is chunked or ends with the
    connection; chunked; whether the connection may serve another request after it)."""
    connection = b",".join(v for k, v in fields if k == b"connection").lower()
    reusable = version == b"HTTP/1.1" and b"close" not in connection
    transfer = b",".join(v for k, v in fields if k == b"transfer-encoding").lower()
    chunked = transfer.rstrip().endswith(b"chunked")
    if method == "HEAD" or status in NO_BODY_STATUS:
        return 0, chunked, reusable
    if chunked:
        return None, True, reusable
    declared = next((v for k, v in fields if k == b"content-length"), None)
    if declared is None:
        return None, False, False  # the body ends when the connection does
    if not declared.strip().isdigit():
        raise ConnectionLost(f"bad content-length {declared[:40]!r}")
    return int(declared), False, reusable
