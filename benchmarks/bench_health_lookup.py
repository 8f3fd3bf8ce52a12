"""CPU of the ECS service scheduler's target-health lookup (``ElbHealth``), which runs once a
wall second for a stack's whole life: the scheduler's lookup against a local HTTP server
answering ``/_alb/targets``, and for comparison the same GET through ``httpx.get`` (a new
client per call, as the lookup did before).

    .venv/bin/python benchmarks/bench_health_lookup.py [--calls 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.http_stub import json_server  # noqa: E402
from tradai_sim.cloud.ecs.elb_health import TARGETS_PATH, ElbHealth  # noqa: E402

BODY = json.dumps({"web": [{"task_id": f"t{i}", "state": "healthy",
                            "target_group_arn": "arn:tg"} for i in range(4)]}).encode()


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
    with json_server(lambda path: BODY) as alb:
        health = ElbHealth(lambda: alb.url)

        def lookup() -> object:
            health._at = 0.0  # the cached view has aged: every call asks
            return health.unhealthy()

        scheduler = cpu_ms_per_call(lookup, args.calls)
        per_call = cpu_ms_per_call(lambda: httpx.get(alb.url + TARGETS_PATH, timeout=2.0),
                                   args.calls)
    print(f"CPU ms per target-health lookup ({args.calls} calls, this process, the server's "
          f"thread included):")
    print(f"  ElbHealth.unhealthy (one kept client): {scheduler:6.2f}")
    print(f"  httpx.get (a client per call):         {per_call:6.2f}")


if __name__ == "__main__":
    main()
