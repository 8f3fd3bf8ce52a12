"""The emulator's CPU for one backtest submission's AWS calls, with the hot-path patches
(``tradai_sim.cloud.moto_hot_paths``) and without them.

    .venv/bin/python benchmarks/bench_emulator_calls.py [--submits 300] [--rounds 3]

A submission makes two calls (``tradai.backtests``' own code): the ticket's conditional
PutItem and the FIFO SendMessage (until 85f3293 also an ``enqueued`` UpdateItem). Each
variant runs in a fresh process holding the emulator (moto's server with every other patch
applied, keep-alive, the real ticket table and backtest queue from the topology spec) and a
client thread; the emulator's CPU is the process's minus the client thread's. The variants
alternate, round by round, so that this machine's drift in speed falls on both alike.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

WARM_UP = 30


def run_variant(hot: bool, submits: int) -> dict[str, float]:
    from tradai_sim.cloud import moto_patches
    from tradai_sim.cloud.emulator import EmulatorServer, prepare_moto_environment
    from tradai_sim.ports import free_port

    port = free_port()
    prepare_moto_environment(port)
    if not hot:
        moto_patches.PATCHES[:] = [p for p in moto_patches.PATCHES
                                   if p not in moto_patches.HOT_PATH_PATCHES]
    moto_patches.apply_patches()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # as the cloud sets it
    server = EmulatorServer("127.0.0.1", port, lambda env, start: [])
    server.start()
    try:
        return _submit_load(port, submits)
    finally:
        server.stop()


def _submit_load(port: int, submits: int) -> dict[str, float]:
    from tradai.backtests.queue import BacktestQueue
    from tradai.backtests.store import TicketStore
    from tradai.clock import Clock
    from tradai.topology import load_topology
    from tradai_sim.cloud.bootstrap.resources import Bootstrap
    from tradai_sim.cloud.context import CloudContext

    topology = load_topology()
    with tempfile.TemporaryDirectory() as state:
        (Path(state) / "logs").mkdir()
        ctx = CloudContext(endpoint=f"http://127.0.0.1:{port}", region=topology.region,
                           env="bench", clock=Clock(), state_dir=Path(state), topology=topology)
        boot = Bootstrap(ctx)
        boot.queues()
        boot.tables()
        queue_url = ctx.resources["queues"]["urls"]["backtest-queue.fifo"]
        table = ctx.resources["tables"]["workflow-state"]
        store = TicketStore(ctx.client("dynamodb"), table)
        queue = BacktestQueue(ctx.client("sqs"), queue_url)

        def submit(n: int) -> None:
            record = _record(n)
            store.create(record)
            queue.send({"job_id": record["job_id"], **record["job"]},
                       group_id=record["owner"], dedup_id=record["dedup_id"])

        for n in range(WARM_UP):
            submit(n)
        cpu0, mine0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
        for n in range(WARM_UP, WARM_UP + submits):
            submit(n)
        cpu, mine = time.process_time() - cpu0, time.thread_time() - mine0
        wall = time.perf_counter() - wall0
    return {"emulator_cpu_ms": (cpu - mine) / submits * 1000,
            "client_cpu_ms": mine / submits * 1000, "wall_ms": wall / submits * 1000}


def _record(n: int) -> dict[str, object]:
    """A ticket shaped as ``BacktestService._record`` writes it."""
    job_id = uuid.UUID(int=n).hex
    job = {"strategy": "ExampleStrategy", "version": "3", "alias": None,
           "pairs": ["BTC/USDT", "ETH/USDT"], "timeframe": "5m",
           "timerange": "20260901-20261130", "strategy_class": "ExampleStrategy",
           "config_s3_path": None, "mode": "backtest"}
    now = int(time.time())
    return {"job_id": job_id, "owner": f"owner-{n % 10}", "owner_name": "bench",
            "created_at": "2026-12-05T00:00:00+00:00", "updated_at": "2026-12-05T00:00:00+00:00",
            "submitted_epoch": now, "status": "QUEUED", "progress": 0, "kind": "backtest",
            "strategy": job["strategy"], "version": job["version"],
            "request": {k: v for k, v in job.items() if v is not None}, "job": job,
            "fingerprint": "f" * 64, "idempotency_key": f"key-{n}", "dedup_id": job_id,
            "ttl": now + 30 * 86400, "stage_submitted": now}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--submits", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variant", choices=("hot", "moto"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:  # one measurement, in this fresh process
        print(json.dumps(run_variant(args.variant == "hot", args.submits)))
        return 0
    results: dict[str, list[dict[str, float]]] = {"moto": [], "hot": []}
    for r in range(args.rounds):
        for variant in ("moto", "hot"):
            out = subprocess.run([sys.executable, __file__, "--variant", variant,
                                  "--submits", str(args.submits)],
                                 capture_output=True, text=True, check=True)
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            results[variant].append(figures)
            print(f"round {r + 1} {variant:4}  emulator {figures['emulator_cpu_ms']:6.2f} CPU ms"
                  f"  client {figures['client_cpu_ms']:5.2f}  wall {figures['wall_ms']:6.2f} ms"
                  " per submission", flush=True)
    print(f"\nmedians over {args.rounds} rounds of {args.submits} submissions "
          "(conditional PutItem + FIFO SendMessage):")
    for variant, label in (("moto", "moto's own helpers"), ("hot", "hot-path patches")):
        med = {k: statistics.median(f[k] for f in results[variant])
               for k in ("emulator_cpu_ms", "client_cpu_ms", "wall_ms")}
        print(f"  {label:20} emulator {med['emulator_cpu_ms']:.2f} CPU ms, "
              f"client {med['client_cpu_ms']:.2f}, wall {med['wall_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
