"""What the local bootstrap gives every component, without starting a cloud: its resource
steps run against moto's server, and the parts that publish task environment run their
``prepare`` first, as ``tradai-sim up`` does (RDS as the SQLite store: no database server
here). Shared by the local check of the runtime configuration and its parity with AWS."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tradai.clock import Clock
from tradai.topology.model import Topology
from tradai.topology.runtime_config import RuntimeConfig


@contextlib.contextmanager
def local_runtime_config(state_dir: Path, topo: Topology) -> Iterator[RuntimeConfig[str]]:
    from tradai_sim.cloud.bootstrap.resources import Bootstrap
    from tradai_sim.cloud.context import CloudContext
    from tradai_sim.cloud.edge import part as edge
    from tradai_sim.cloud.internet import part as internet
    from tradai_sim.cloud.rds import part as rds
    from tradai_sim.cloud.seed import part as seed

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        ctx = CloudContext(endpoint=f"http://{host}:{port}", region="eu-central-1",
                           env="local", clock=Clock(), state_dir=state_dir, topology=topo)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(rds.STORE_ENV, "sqlite")
            for part in (internet, rds, edge, seed):
                part.prepare(ctx)
        boot = Bootstrap(ctx)
        for step in (boot.network, boot.storage, boot.queues, boot.tables, boot.topics,
                     boot.identity):
            step()
        yield boot.runtime_config()
    finally:
        server.stop()
