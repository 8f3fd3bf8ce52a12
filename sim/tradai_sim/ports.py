"""Ports for listeners that start later than the port is chosen: picked outside the kernel's
ephemeral range, and reserved machine-wide until their listener has had time to bind.

Binding to port 0 yields a port from the ephemeral range, the range the kernel also gives
every outgoing connection its local port from. The edge's ports are chosen before the
bootstrap and bound seconds later by their processes (a task's port likewise); meanwhile an
outgoing connection, kept alive since the emulator keeps connections open, can take the same
number, and the listener fails with "Address already in use". A port below the ephemeral range
is never handed to a client connection, so only another listener can take it.

The bind check sees listeners that are already bound, not a port another stack chose a moment
ago and has not bound yet (two stacks starting at once, as parallel test workers do: a clean
clone's ALB died so). Each pick is therefore also reserved: a file created exclusively in a
directory every process on the machine shares, as Google's portpicker keeps a port server for
parallel tests. A reservation lapses after ``RESERVED_FOR`` seconds, when its listener has long
been bound (or never will be) and the bind check takes over.
"""

from __future__ import annotations

import os
import random
import socket
import tempfile
import time
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
RESERVATIONS = Path(tempfile.gettempdir()) / "tradai-port-reservations"
RESERVED_FOR = 300.0  # seconds: far longer than any start from pick to bind
LOWEST = 10_000  # below: ports services conventionally own (5432, 8000, 8080, ...)
DEFAULT_EPHEMERAL = (32_768, 60_999)  # Linux's default
TRIES = 200


def ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in RANGE_FILE.read_text().split())
        return lo, hi
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL


def free_port(host: str = "127.0.0.1") -> int:
    """A port no socket holds now and no other pick holds a reservation on, outside the
    ephemeral range (falls back to one the kernel picks if that range is somehow all taken)."""
    lo, hi = ephemeral_range()
    candidates = [*range(LOWEST, lo), *range(hi + 1, 65_536)]
    pick = random.SystemRandom()
    for _ in range(TRIES if candidates else 0):
        port = pick.choice(candidates)
        if _bindable(host, port) and reserve(port):
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def reserve(port: int, now: float | None = None) -> bool:
    """Claim ``port`` for this pick: False while another pick's reservation holds it."""
    RESERVATIONS.mkdir(parents=True, exist_ok=True)
    path = RESERVATIONS / str(port)
    for _ in range(2):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return True
        except FileExistsError:
            try:
                age = (time.time() if now is None else now) - path.stat().st_mtime
            except FileNotFoundError:
                continue  # lapsed and removed meanwhile: try once more
            if age < RESERVED_FOR:
                return False
            # Lapsed: remove it and claim afresh (O_EXCL decides between two that both saw it
            # lapsed; the only gap is one that removes a claim made between its stat and its
            # unlink, on the same port, within microseconds).
            path.unlink(missing_ok=True)
    return False
