from __future__ import annotations

import threading
import time

import pytest

from tradai.clock import Clock


def test_dilated_clock_runs_scale_times_faster_from_origin() -> None:
    origin = time.time() - 10.0  # 10 wall seconds ago
    clock = Clock(scale=20.0, origin=origin)
    assert clock.now() == pytest.approx(origin + 200.0, abs=1.0)
    assert clock.to_wall(60) == 3.0
    assert clock.wall_time_of(origin + 200.0) == pytest.approx(origin + 10.0)


def test_processes_share_the_clock_through_the_environment() -> None:
    clock = Clock(scale=20.0, origin=1_700_000_000.0)
    other = Clock.from_env(clock.env())
    assert other == clock
    assert abs(other.now() - clock.now()) < 0.5


def test_wait_returns_early_on_event() -> None:
    clock = Clock(scale=1000.0)
    ev = threading.Event()
    ev.set()
    assert clock.wait(ev, 3600)
    assert not clock.wait(threading.Event(), 10)  # 10 simulated s = 10 ms


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Clock(scale=0)
