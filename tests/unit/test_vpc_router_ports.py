"""The VPC router's listeners honour the machine-wide port reservations
(sim/tradai_sim/vpc/router.py, sim/tradai_sim/ports.py): a port another stack picked and has not
bound yet is never taken (ci69: an ALB died with "Address already in use" on a discovery port a
router listener had taken)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from tradai_sim import ports
from tradai_sim.vpc import router as vpc


def test_a_reserved_port_is_skipped_and_the_one_taken_is_reserved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "RESERVATIONS", tmp_path / "reservations")
    r = vpc.Router()
    low = vpc.PORT_RANGE[0]
    start = next(p for p in range(low, low + 500) if ports._bindable("127.0.0.1", p)
                 and ports._bindable("127.0.0.1", p + 1))
    r._next_port = itertools.count(start - low)  # the router's next picks: start, start + 1
    assert ports.reserve(start)  # another stack picked it: not yet bound by anybody

    async def listen() -> int:
        server = await r._listen("vpc|subnet-a|discovery:mlflow")
        try:
            return int(server.sockets[0].getsockname()[1])
        finally:
            server.close()
            await server.wait_closed()

    taken = asyncio.run(listen())
    assert taken == start + 1
    assert not ports.reserve(start + 1)  # the router's own claim holds it for its listener
