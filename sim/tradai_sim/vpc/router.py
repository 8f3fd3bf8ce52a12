"""The VPC router: every connection a process of the stack makes to something of the VPC, to the
AWS APIs or to the internet enters here, on a listener that stands for (its subnet, where to).

``python -m tradai_sim.vpc.router --ready-file F``

The router is a dumb data plane. The cloud's network part computes, from the emulator's EC2
state (route tables, instances, subnets) and the faults in force, one decision per listener
(``{"to": [host, port]}`` or ``{"refuse": reason}``) and pushes the whole table with
``PUT /table`` on the admin port whenever it changes. Each new connection is decided by the
table in force when it arrives; a connection whose decision changes (a disruption starts, the
route now names another NAT instance) is cut at once. A refused connection is reset (RST), so
the client fails fast with a connection error instead of hanging.

``GET /stats`` answers per listener: connections accepted (and by which path, when the decision
names one: ``"via"``), refused, active, bytes, and the last refusal's reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradai_sim import ports

log = logging.getLogger("tradai_sim.vpc.router")

HOST = "127.0.0.1"
CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536
# Listener ports come from below the kernel's ephemeral range (ip_local_port_range, 32768+ by
# default), where no outgoing connection takes one. The stack's other listeners are picked
# there too (tradai_sim.ports), and bound a moment after the pick: each router port is claimed
# in the same machine-wide reservations, so a listener never takes a port another stack has
# picked and not bound yet (ci69: an ALB's discovery port taken by a router).
PORT_RANGE = (20000, 32000)


@dataclass
class ListenerStats:
    accepted: int = 0
    refused: int = 0
    cut: int = 0
    active: int = 0
    bytes: int = 0
    last_refusal: str | None = None
    last_refusal_at: float | None = None
    # connections accepted by the path the decision named ("via": a VPC endpoint, a NAT)
    via: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "via": dict(self.via)}


@dataclass(eq=False)
class Splice:
    key: str
    hop: tuple[str, int]
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: the peer sees ECONNRESET at once, as a refused route should look."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Router:
    def __init__(self) -> None:
        self.routes: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, asyncio.Server] = {}
        self.ports: dict[str, int] = {}
        self.stats: dict[str, ListenerStats] = {}
        self.splices: set[Splice] = set()
        self.version = 0
        self._next_port = itertools.count(random.randrange(PORT_RANGE[1] - PORT_RANGE[0]))

    # -- the table -------------------------------------------------------------------------
    async def apply(self, routes: dict[str, dict[str, Any]]) -> dict[str, int]:
        for key in [k for k in self.servers if k not in routes]:
            server = self.servers.pop(key)
            server.close()
            self.ports.pop(key, None)
        for key in routes:
            if key not in self.servers:
                server = await self._listen(key)
                self.servers[key] = server
                self.ports[key] = server.sockets[0].getsockname()[1]
                self.stats.setdefault(key, ListenerStats())
        self.routes = routes
        self.version += 1
        self._cut_changed()
        return dict(self.ports)

    async def _listen(self, key: str) -> asyncio.Server:
        low, high = PORT_RANGE
        for _ in range(high - low):
            port = low + next(self._next_port) % (high - low)
            if not ports.reserve(port):
                continue  # picked by another listener that may not have bound it yet
            try:
                return await asyncio.start_server(
                    lambda r, w, k=key: self._accept(k, r, w), HOST, port)
            except OSError:
                continue  # taken (another stack's router, or anything else): try the next
        raise OSError(f"no free port in {low}-{high} for listener {key}")

    def _cut_changed(self) -> None:
        for splice in list(self.splices):
            hop = _hop(self.routes.get(splice.key))
            if hop != splice.hop:
                reason = (self.routes.get(splice.key) or {}).get("refuse", "route changed")
                stats = self.stats[splice.key]
                stats.cut += 1
                log.info("cut %s -> %s:%s: %s", splice.key, *splice.hop, reason)
                self._close(splice)

    # -- connections -----------------------------------------------------------------------
    async def _accept(self, key: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        stats = self.stats[key]
        decision = self.routes.get(key) or {"refuse": "no route"}
        hop = _hop(decision)
        if hop is None:
            self._refuse(key, writer, decision.get("refuse", "no route"))
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*hop), CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            self._refuse(key, writer, f"next hop {hop[0]}:{hop[1]} unreachable: "
                                      f"{type(exc).__name__}")
            return
        if _hop(self.routes.get(key)) != hop:  # the table changed while we connected
            reset(up_writer)
            self._refuse(key, writer, (self.routes.get(key) or {}).get("refuse", "route changed"))
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stats.accepted += 1
        stats.active += 1
        if decision.get("via"):
            stats.via[decision["via"]] = stats.via.get(decision["via"], 0) + 1
        splice = Splice(key, hop, writer, up_writer)
        self.splices.add(splice)
        splice.tasks = [asyncio.create_task(self._pump(reader, up_writer, stats)),
                        asyncio.create_task(self._pump(up_reader, writer, stats))]
        try:
            await asyncio.wait(splice.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stats.active -= 1
            self._close(splice)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    stats: ListenerStats) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(CHUNK):
                stats.bytes += len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()  # half-close: let the other direction finish

    def _refuse(self, key: str, writer: asyncio.StreamWriter, reason: str) -> None:
        stats = self.stats[key]
        stats.refused += 1
        stats.last_refusal, stats.last_refusal_at = reason, time.time()
        log.info("refused %s: %s", key, reason)
        reset(writer)

    def _close(self, splice: Splice) -> None:
        if splice not in self.splices:
            return
        self.splices.discard(splice)
        for task in splice.tasks:
            task.cancel()
        reset(splice.client)
        reset(splice.upstream)

    # -- admin -----------------------------------------------------------------------------
    async def admin(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            head = request.decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            length = next((int(h.split(":", 1)[1]) for h in head[1:]
                           if h.lower().startswith("content-length:")), 0)
            body = json.loads(await reader.readexactly(length)) if length else {}
            status, payload = await self._admin(method, path, body)
        except (ValueError, KeyError, asyncio.IncompleteReadError) as exc:
            status, payload = 400, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(payload).encode()
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    async def _admin(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if method == "PUT" and path == "/table":
            return 200, {"ports": await self.apply(body["routes"]), "version": self.version}
        if method == "GET" and path == "/stats":
            return 200, {"version": self.version, "active": len(self.splices),
                         "listeners": {k: {"port": self.ports.get(k), **s.as_dict()}
                                       for k, s in self.stats.items() if k in self.ports}}
        return 404, {"error": f"no admin route {method} {path}"}


def _hop(decision: dict[str, Any] | None) -> tuple[str, int] | None:
    to = (decision or {}).get("to")
    return (str(to[0]), int(to[1])) if to else None


async def serve(ready_file: Path) -> None:
    router = Router()
    admin = await asyncio.start_server(router.admin, HOST, 0)
    port = admin.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tmp = ready_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"admin_port": port, "pid": os.getpid()}))
    tmp.replace(ready_file)
    log.info("router admin on %s:%s", HOST, port)
    await stop.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tradai-vpc-router")
    ap.add_argument("--ready-file", type=Path, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(args.ready_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
