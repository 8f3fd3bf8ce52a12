"""CPU per forwarded request of the edge's traffic client (``tradai_sim.edge.upstream``)
against httpx, which the gateway and ALB stand-ins used before: the same requests as a
submission's forward (a POST with a JSON body, a small JSON answer), ten in flight, to an
upstream in another process (so only the client's CPU is counted), the two alternating.

    .venv/bin/python benchmarks/bench_edge_client.py [--requests 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from tradai_sim.edge import upstream

CONCURRENCY = 10
BODY = b'{"strategy": "EmaCrossover", "pairs": ["BTC/USDT"], "timeframe": "5m"}'
HEADERS = [("authorization", "Bearer " + "x" * 800), ("content-type", "application/json"),
           ("idempotency-key", "k" * 32), ("x-forwarded-for", "127.0.0.1"),
           ("via", "1.1 tradai-gateway")]
# An upstream that answers every request with the same small JSON, kept alive: its own CPU
# is not the client's, so it runs in a process of its own.
SERVER = r"""
import asyncio, sys
ANSWER = (b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 60\r\n"
          b"\r\n" + b'{"job_id": "0123456789abcdef0123456789abcdef", "status": "Q"}'[:60])
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            n = next((int(l.split(b":")[1]) for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(n)
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


async def load(send: Callable[[], Awaitable[bytes]], requests: int) -> float:
    """CPU ms of this process per request, ``requests`` sent ``CONCURRENCY`` at a time."""
    async def worker(n: int) -> None:
        for _ in range(n):
            assert await send()
    per, extra = divmod(requests, CONCURRENCY)
    start = time.process_time()
    await asyncio.gather(*(worker(per + (i < extra)) for i in range(CONCURRENCY)))
    return (time.process_time() - start) * 1000 / requests


async def with_httpx(url: str, requests: int) -> float:
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, connect=5.0), trust_env=False,
                                 limits=httpx.Limits(max_connections=200,
                                                     max_keepalive_connections=50)) as c:
        async def send() -> bytes:  # as the proxies did: streamed, then read raw
            resp = await c.send(c.build_request("POST", url, headers=HEADERS, content=BODY),
                                stream=True)
            try:
                return b"".join([chunk async for chunk in resp.aiter_raw()])
            finally:
                await resp.aclose()
        await load(send, 100)  # warm: connections open, imports done
        return await load(send, requests)


async def with_pool(url: str, requests: int) -> float:
    pool = upstream.Pool(30)

    async def send() -> bytes:
        answer = await pool.request("POST", url, HEADERS, BODY)
        return await answer.read()
    await load(send, 100)
    try:
        return await load(send, requests)
    finally:
        await pool.aclose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/api/v1/backtests"
        results: dict[str, list[float]] = {"httpx": [], "upstream.Pool": []}
        for r in range(args.rounds):
            for name, fn in (("httpx", with_httpx), ("upstream.Pool", with_pool)):
                ms = asyncio.run(fn(url, args.requests))
                results[name].append(ms)
                print(f"round {r + 1}  {name:14s} {ms:6.3f} CPU ms per request", flush=True)
        print(f"{args.requests} POSTs a round, {CONCURRENCY} in flight, {os.cpu_count()} cores")
        for name, values in results.items():
            print(f"{name:14s} median {statistics.median(values):6.3f} CPU ms per request  "
                  f"({', '.join(f'{v:.3f}' for v in values)})")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
