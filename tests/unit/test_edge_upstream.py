"""The edge's HTTP/1.1 client (``tradai_sim.edge.upstream``) against a server that writes
exactly the bytes each test gives it: body framing (length, chunked, until close), kept-alive
connections and when they must not be reused, and each way an upstream can fail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tradai_sim.edge import upstream
from tradai_sim.edge.upstream import ConnectFailed, ConnectionLost, Pool, TimedOut
from tradai_sim.ports import free_port  # nothing listens, and no stack will bind it

HANG = b"<hang>"  # answer nothing, keep the connection open
DROP = b"<drop>"  # close the connection without answering


def ok(body: bytes = b"hello", *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body), head.encode(), body)


@dataclass
class Raw:
    """Answers the n-th request it reads with ``answers[n]`` (then closes the connection if
    ``closes`` holds n); records each request's bytes and counts connections."""

    answers: list[bytes]
    closes: set[int] = field(default_factory=set)
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    closed_by_client: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.closed_by_client += 1
                    return
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(length))
                n = len(self.requests) - 1
                answer = self.answers[n]
                if answer == HANG:
                    await asyncio.sleep(30)
                if answer == DROP:
                    return
                writer.write(answer)
                await writer.drain()
                if n in self.closes:
                    return
        finally:
            writer.close()


def run(raw: Raw, body: Callable[[Raw], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        async with server:
            return await body(raw)
    return asyncio.run(main())


async def get(pool: Pool, raw: Raw, path: str = "/x", method: str = "GET",
              body: bytes = b"") -> tuple[int, bytes]:
    answer = await pool.request(method, raw.url + path, [("x-test", "1")], body)
    return answer.status, await answer.read()


# -- framing and reuse -----------------------------------------------------------------------
def test_a_kept_alive_connection_serves_the_next_request() -> None:
    async def body(raw: Raw) -> Any:
        pool = Pool(5)
        first = await get(pool, raw, "/a?x=1&x=2", "POST")
        second = await get(pool, raw, "/b", "PUT", b"payload")
        await pool.aclose()
        return first, second
    raw = Raw([ok(b"one"), ok(b"two")])
    assert run(raw, body) == ((200, b"one"), (200, b"two"))
    assert raw.connections == 1
    port = raw.url.rsplit(":", 1)[1]
    assert raw.requests[0] == (f"POST /a?x=1&x=2 HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
                               "x-test: 1\r\ncontent-length: 0\r\n\r\n").encode()
    assert raw.requests[1].endswith(b"content-length: 7\r\n\r\npayload")


def test_a_chunked_answer_is_dechunked_and_the_connection_kept() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n")
    raw = Raw([chunked, ok(b"next")])
    result = run(raw, lambda r: _two(r))
    assert result == [(200, b"hello world"), (200, b"next")] and raw.connections == 1


async def _two(raw: Raw, gap: float = 0.0, **pool: Any) -> list[tuple[int, bytes]]:
    p = Pool(5, **pool)
    out = [await get(p, raw)]
    await asyncio.sleep(gap)
    out.append(await get(p, raw))
    await p.aclose()
    return out


@pytest.mark.parametrize(("first", "server_closes", "why"), [
    (b"HTTP/1.1 200 OK\r\n\r\nuntil the close", True, "no length: the body ends with the close"),
    # the server keeps the socket open: only the answer's words forbid the reuse
    (ok(b"bye", "connection: close"), False, "the upstream said close"),
    (b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nold", False, "HTTP/1.0"),
])
def test_a_connection_is_not_reused_when_http_says_it_ends(first: bytes, server_closes: bool,
                                                            why: str) -> None:
    raw = Raw([first, ok(b"next")], closes={0} if server_closes else set())
    result = run(raw, lambda r: _two(r))
    assert result[1] == (200, b"next") and raw.connections == 2, why
    assert result[0][1] in (b"until the close", b"bye", b"old")


@pytest.mark.parametrize(("method", "answer"), [
    ("HEAD", b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"),
    ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ("GET", b"HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\n\r\n"),
])
def test_answers_without_a_body(method: str, answer: bytes) -> None:
    async def body(raw: Raw) -> Any:
        pool = Pool(5)
        first = await get(pool, raw, method=method)
        second = await get(pool, raw)
        await pool.aclose()
        return first, second
    raw = Raw([answer, ok(b"next")])
    first, second = run(raw, body)
    assert first[1] == b"" and second == (200, b"next") and raw.connections == 1


def test_an_interim_answer_is_skipped() -> None:
    raw = Raw([b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
               + ok(b"final", "x-final: yes"), ok()])
    (status, data), _ = run(raw, lambda r: _two(r))
    assert (status, data) == (200, b"final")


def test_headers_keep_repeats_and_lower_case_names() -> None:
    async def body(raw: Raw) -> Any:
        pool = Pool(5)
        answer = await pool.request("GET", raw.url + "/", [])
        await answer.read()
        await pool.aclose()
        return answer.headers
    raw = Raw([ok(b"", "Set-Cookie: a=1", "Set-Cookie: b=2", "X-Odd:  spaced  ")])
    assert run(raw, body) == [(b"content-length", b"0"), (b"set-cookie", b"a=1"),
                              (b"set-cookie", b"b=2"), (b"x-odd", b"spaced")]


def test_an_idle_connection_the_upstream_closed_is_not_reused() -> None:
    """uvicorn closes a kept connection after 5 idle seconds: the next request must not be
    sent on it (it would be lost), but on a new one."""
    raw = Raw([ok(b"one"), ok(b"two")], closes={0})
    assert run(raw, lambda r: _two(r, gap=0.05)) == [(200, b"one"), (200, b"two")]
    assert raw.connections == 2


def test_a_connection_idle_past_the_expiry_is_closed_not_reused() -> None:
    raw = Raw([ok(b"one"), ok(b"two")])
    assert run(raw, lambda r: _two(r, gap=0.1, keepalive_expiry=0.05))[1] == (200, b"two")
    assert raw.connections == 2 and raw.closed_by_client >= 1


def test_an_answer_abandoned_midway_drops_its_connection() -> None:
    async def body(raw: Raw) -> Any:
        pool = Pool(5)
        answer = await pool.request("GET", raw.url + "/", [])
        chunks = answer.chunks()
        first = await chunks.__anext__()
        await chunks.aclose()  # the reader went away: the rest of the body is still unread
        answer.close()
        second = await get(pool, raw)
        await pool.aclose()
        return first, second
    big = b"x" * (upstream.READ_BYTES * 3)
    raw = Raw([ok(big), ok(b"next")])
    first, second = run(raw, body)
    assert first and len(first) < len(big) and second == (200, b"next")
    assert raw.connections == 2


def test_idle_connections_beyond_the_limit_are_closed() -> None:
    async def body(raw: Raw) -> Any:
        pool = Pool(5, max_idle=1)
        await asyncio.gather(get(pool, raw), get(pool, raw))
        await asyncio.sleep(0.05)
        closed = raw.closed_by_client
        await pool.aclose()
        return closed
    raw = Raw([ok(), ok()])
    assert run(raw, body) == 1 and raw.connections == 2


# -- failures --------------------------------------------------------------------------------
def test_a_refused_connection_is_connect_failed() -> None:
    async def body() -> None:
        await Pool(5).request("GET", f"http://127.0.0.1:{free_port()}/", [])
    with pytest.raises(ConnectFailed, match="refused"):
        asyncio.run(body())


def fails(answer: bytes, exc: type[Exception], match: str, timeout: float = 5,
          closes: set[int] | None = None) -> None:
    async def body(raw: Raw) -> Any:
        pool = Pool(timeout)
        try:
            return await get(pool, raw)
        finally:
            await pool.aclose()
    with pytest.raises(exc, match=match):
        run(Raw([answer], closes=closes if closes is not None else {0}), body)


def test_no_answer_in_time_is_timed_out() -> None:
    fails(HANG, TimedOut, "no answer in 0.2 s", timeout=0.2)


def test_a_body_that_stops_coming_is_timed_out() -> None:
    fails(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345", TimedOut, "no data",
          timeout=0.2, closes=set())


@pytest.mark.parametrize(("answer", "match"), [
    (DROP, "closed the connection without answering"),
    (b"HTTP/1.1 200 OK\r\ncontent-le", "head was cut off"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345", "5 bytes before the end"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel", "closed before the end"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
     "closed before the end"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.1 status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n", "bad content-length"),
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
    (b"HTTP/1.1 200 OK\r\nx: " + b"a" * (upstream.MAX_HEAD_BYTES + 10) + b"\r\n\r\n",
     "head is over"),
])
def test_a_broken_answer_is_connection_lost(answer: bytes, match: str) -> None:
    fails(answer, ConnectionLost, match)


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="not an http:// URL"):
        upstream.origin("https://example.test/")
    assert upstream.origin("http://h:81/p?q=1") == ("h", 81, "/p?q=1")
    assert upstream.origin("http://h") == ("h", 80, "/")
