"""Ports chosen for listeners that bind later come from outside the ephemeral range, where no
outgoing connection can take them, and no two picks share one before it is bound
(sim/tradai_sim/ports.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tradai_sim import ports


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(ports, "RESERVATIONS", tmp_path / "reservations")
    return tmp_path / "reservations"


def test_a_port_is_outside_the_ephemeral_range_and_free(registry: Path) -> None:
    lo, hi = ports.ephemeral_range()
    for _ in range(20):
        port = ports.free_port()
        assert not lo <= port <= hi and port >= ports.LOWEST
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nobody holds it


def test_a_held_port_is_never_chosen(registry: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_a_port_another_pick_reserved_is_not_chosen_before_it_is_bound(
        registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two candidates (10000, 10001), nothing bound: the second pick must not repeat the
    # first, although nothing listens on it yet (ci64: two stacks' ALB and listener).
    (tmp_path / "range").write_text(f"{ports.LOWEST + 2}\t65535\n")
    monkeypatch.setattr(ports, "RANGE_FILE", tmp_path / "range")
    for port in (ports.LOWEST, ports.LOWEST + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                pytest.fail(f"port {port} is taken on this machine: the test needs it")
    first, second = ports.free_port(), ports.free_port()
    assert {first, second} == {ports.LOWEST, ports.LOWEST + 1}
    # Both reserved: the third pick falls back to the kernel's choice.
    assert ports.free_port() not in (ports.LOWEST, ports.LOWEST + 1)


def test_a_reservation_is_exclusive_across_processes(registry: Path) -> None:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        won = pool.starmap(ReserveIn(registry), [(12_345,)] * 8)
    assert sorted(won) == [False] * 7 + [True]


def test_a_lapsed_reservation_can_be_claimed_again(registry: Path) -> None:
    assert ports.reserve(12_346)
    assert not ports.reserve(12_346)
    lapsed = (registry / "12346").stat().st_mtime + ports.RESERVED_FOR + 1
    assert ports.reserve(12_346, now=lapsed)
    assert not ports.reserve(12_346)  # the new claim holds


class ReserveIn:  # a picklable function of the registry's directory
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self, port: int) -> bool:
        ports.RESERVATIONS = self.directory
        return ports.reserve(port)
