"""Ports for listeners that start later than the port is chosen, picked outside the kernel's
ephemeral range.

Binding to port 0 yields a port from the ephemeral range, the range the kernel also gives
every outgoing connection its local port from. The edge's ports are chosen before the
bootstrap and bound seconds later by their processes (a task's port likewise); meanwhile an
outgoing connection, kept alive since the emulator keeps connections open, can take the same
number, and the listener fails with "Address already in use". A port below the ephemeral range
is never handed to a client connection, so only another listener can take it, and the check
here sees those.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
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
    """A port no socket holds now, outside the ephemeral range (falls back to one the kernel
    picks if that range is somehow all taken)."""
    lo, hi = ephemeral_range()
    candidates = [*range(LOWEST, lo), *range(hi + 1, 65_536)]
    pick = random.SystemRandom()
    for _ in range(TRIES if candidates else 0):
        port = pick.choice(candidates)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
