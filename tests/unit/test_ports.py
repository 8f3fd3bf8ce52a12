"""Ports chosen for listeners that bind later come from outside the ephemeral range, where no
outgoing connection can take them (sim/tradai_sim/ports.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tradai_sim import ports


def test_a_port_is_outside_the_ephemeral_range_and_free() -> None:
    lo, hi = ports.ephemeral_range()
    for _ in range(20):
        port = ports.free_port()
        assert not lo <= port <= hi and port >= ports.LOWEST
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nobody holds it


def test_a_held_port_is_never_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One candidate only (10000): held by a listener, the kernel's pick is the fallback.
    (tmp_path / "range").write_text(f"{ports.LOWEST + 1}\t65535\n")
    monkeypatch.setattr(ports, "RANGE_FILE", tmp_path / "range")
    with socket.socket() as held:
        try:
            held.bind(("127.0.0.1", ports.LOWEST))
        except OSError:
            pytest.fail(f"port {ports.LOWEST} is taken on this machine: the test needs it")
        held.listen(1)
        assert ports.free_port() != ports.LOWEST
    assert ports.free_port() == ports.LOWEST
