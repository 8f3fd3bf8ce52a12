"""The VPC's data plane on its own: the router process and an egress process (a NAT instance),
with a small origin server standing in for the internet. No cloud process needed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tradai_sim.vpc.marks import EGRESS_HEADER, EGRESS_TOKEN_ENV, EGRESS_TOKEN_HEADER

TOKEN = "test-token"


class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _OriginHandler)


class _OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Origin

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _start(tmp: Path, name: str, module: str, *args: str) -> tuple[subprocess.Popen[bytes],
                                                                  dict[str, Any]]:
    ready = tmp / f"{name}.json"
    proc = subprocess.Popen([sys.executable, "-m", module, *args, "--ready-file", str(ready)],
                            env={**os.environ, EGRESS_TOKEN_ENV: TOKEN},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 20
    while not ready.exists():
        assert proc.poll() is None, f"{name} exited"
        assert time.time() < deadline, f"{name} not ready"
        time.sleep(0.02)
    return proc, json.loads(ready.read_text())


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[dict[str, Any]]:
    origin = Origin()
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    procs = []
    try:
        nat, nat_info = _start(tmp_path, "nat", "tradai_sim.vpc.egress",
                               "--identity", "nat:i-1")
        procs.append(nat)
        router, router_info = _start(tmp_path, "router", "tradai_sim.vpc.router")
        procs.append(router)
        yield {"origin": origin, "nat_port": nat_info["port"], "nat": nat,
               "admin": f"http://127.0.0.1:{router_info['admin_port']}"}
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        origin.shutdown()


def _table(plane: dict[str, Any], routes: dict[str, Any]) -> dict[str, int]:
    r = requests.put(f"{plane['admin']}/table", json={"routes": routes}, timeout=5)
    r.raise_for_status()
    return r.json()["ports"]


def test_egress_process_forwards_and_marks_what_leaves_through_it(plane: dict[str, Any]) -> None:
    origin: Origin = plane["origin"]
    url = f"http://127.0.0.1:{origin.server_address[1]}/api/v3/ping?x=1"
    r = requests.get(url, proxies={"http": f"http://127.0.0.1:{plane['nat_port']}"}, timeout=5)
    assert r.status_code == 200 and r.json() == {"path": "/api/v3/ping?x=1"}
    assert origin.seen[-1][EGRESS_HEADER.lower()] == "nat:i-1"
    assert origin.seen[-1][EGRESS_TOKEN_HEADER.lower()] == TOKEN


def test_router_sends_a_subnet_to_its_next_hop_and_refuses_fast_when_the_route_goes(
        plane: dict[str, Any]) -> None:
    origin: Origin = plane["origin"]
    url = f"http://127.0.0.1:{origin.server_address[1]}/ping"
    ports = _table(plane, {"egress|s1": {"to": ["127.0.0.1", plane["nat_port"]]}})
    session = requests.Session()
    session.trust_env = False
    proxy = {"http": f"http://127.0.0.1:{ports['egress|s1']}"}
    assert session.get(url, proxies=proxy, timeout=5).status_code == 200  # keep-alive open

    same = _table(plane, {"egress|s1": {"refuse": "route 0.0.0.0/0 is a blackhole"}})
    assert same == ports  # the subnet's listener stays where it was
    started = time.perf_counter()
    with pytest.raises(requests.ConnectionError):  # the open connection was cut
        session.get(url, proxies=proxy, timeout=5)
    with pytest.raises(requests.ConnectionError):  # and a new one is reset at once
        requests.get(url, proxies=proxy, timeout=5)
    assert time.perf_counter() - started < 1.0
    stats = requests.get(f"{plane['admin']}/stats", timeout=5).json()["listeners"]["egress|s1"]
    assert stats["refused"] >= 1 and stats["cut"] == 1
    assert stats["last_refusal"] == "route 0.0.0.0/0 is a blackhole"

    _table(plane, {"egress|s1": {"to": ["127.0.0.1", plane["nat_port"]]}})
    assert requests.get(url, proxies=proxy, timeout=5).status_code == 200


def test_killed_nat_instance_makes_its_route_fail_with_a_connection_error(
        plane: dict[str, Any]) -> None:
    origin: Origin = plane["origin"]
    ports = _table(plane, {"egress|s1": {"to": ["127.0.0.1", plane["nat_port"]]}})
    os.killpg(plane["nat"].pid, signal.SIGKILL)
    plane["nat"].wait()
    proxy = {"http": f"http://127.0.0.1:{ports['egress|s1']}"}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{origin.server_address[1]}/", proxies=proxy, timeout=5)
