"""CPU of the ECS service scheduler's target-health lookup (``ElbHealth``), which runs once a
wall second for a stack's whole life: the scheduler's lookup against a local HTTP server
answering ``/_alb/targets``, and for comparison the same GET through ``httpx.get`` (a new
client per call, as the lookup did before).

    .venv/bin/python benchmarks/bench_health_lookup.py [--calls 200]
"""

from __future__ import annotations

import argparse
import http.server
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tradai_sim.cloud.ecs.elb_health import TARGETS_PATH, ElbHealth  # noqa: E402

BODY = json.dumps({"web": [{"task_id": f"t{i}", "state": "healthy",
                            "target_group_arn": "arn:tg"} for i in range(4)]}).encode()


class Targets(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: Any) -> None:
        pass


def cpu_ms_per_call(fn: Callable[[], object], calls: int) -> float:
    fn()  # warm: imports, the first connection
    started = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - started) * 1000 / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Targets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    health = ElbHealth(lambda: base)

    def lookup() -> object:
        health._at = 0.0  # the cached view has aged: every call asks
        return health.unhealthy()

    try:
        scheduler = cpu_ms_per_call(lookup, args.calls)
        per_call = cpu_ms_per_call(lambda: httpx.get(base + TARGETS_PATH, timeout=2.0),
                                   args.calls)
    finally:
        server.shutdown()
    print(f"CPU ms per target-health lookup ({args.calls} calls, this process, the server's "
          f"thread included):")
    print(f"  ElbHealth.unhealthy (one kept client): {scheduler:6.2f}")
    print(f"  httpx.get (a client per call):         {per_call:6.2f}")


if __name__ == "__main__":
    main()
