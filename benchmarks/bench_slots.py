"""The cost of one capacity check of the backtest consumer, before and after the slot lease
(``tradai.workflows.slots``), at 0 and at 1,000 finished executions in the workflow's history.

* before: ListExecutions(statusFilter=RUNNING), paginated, as ``WorkflowStarter.running()``
  did until the lease replaced it;
* after: ``SlotLease.acquire`` of a free slot (one consistent Query of the pool and one
  conditional PutItem; the slot is released between rounds, not timed), and ``acquire`` on a
  full pool whose holders are all alive (the Query plus one DescribeExecution per slot).

Against moto's server (the emulator the local cloud runs, pinned) over HTTP on this machine,
with ``--running`` executions RUNNING (default 9, one below the spec's limit of 10) and the
given number of finished (stopped) ones. Prints per case the API calls of one check and the
median / p95 latency in ms.

    .venv/bin/python benchmarks/bench_slots.py [--rounds 50] [--history 0 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
from common import free_port, pct
from moto.server import ThreadedMotoServer

from tradai.clock import Clock
from tradai.topology import default_topology
from tradai.workflows.orchestration import execution_arn
from tradai.workflows.slots import SlotLease

REGION = "eu-central-1"
SLOTS = "bench-backtest-slots"
LIMIT = next(t for t in default_topology().task_definitions if t.name == "strategy").max_concurrent


def clients(endpoint: str) -> tuple[Any, Any, Counter[str]]:
    calls: Counter[str] = Counter()
    made = []
    for service in ("dynamodb", "stepfunctions"):
        client = boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                              aws_access_key_id="x", aws_secret_access_key="x")
        client.meta.events.register(
            "before-call", lambda model, **_: calls.update([model.name]))
        made.append(client)
    return made[0], made[1], calls


def setup(ddb: Any, sfn: Any, history: int, running: int, tag: str) -> str:
    spec = default_topology().table("backtest-slots")
    keys = [(spec.hash_key, "HASH"), (spec.range_key, "RANGE")]
    ddb.create_table(TableName=f"{SLOTS}-{tag}", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
                     AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"}
                                           for k, _ in keys])
    machine = sfn.create_state_machine(
        name=f"bench-{tag}", roleArn="arn:aws:iam::123456789012:role/bench",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )["stateMachineArn"]
    for i in range(history):  # finished: stopped right after starting
        arn = sfn.start_execution(stateMachineArn=machine, name=f"done-{i}")["executionArn"]
        sfn.stop_execution(executionArn=arn)
    for i in range(running):
        sfn.start_execution(stateMachineArn=machine, name=f"run-{i}")
    return machine


def measure(check: Callable[[], Any], calls: Counter[str], rounds: int,
            between: Callable[[], Any] | None = None) -> tuple[dict[str, int], list[float]]:
    times, per_call = [], Counter[str]()
    for r in range(rounds):
        calls.clear()
        t0 = time.perf_counter()
        check()
        times.append((time.perf_counter() - t0) * 1000)
        if r == 0:
            per_call = Counter(calls)
        if between:
            between()
    return dict(per_call), times


def row(name: str, history: int, per_call: dict[str, int], times: list[float]) -> None:
    made = ", ".join(f"{n} {op}" for op, n in sorted(per_call.items()))
    print(f"{name:<28} {history:>7} {sum(per_call.values()):>5}  {made:<44} "
          f"{statistics.median(times):>7.2f} {pct(times, 0.95):>7.2f}")


def bench(ddb: Any, sfn: Any, calls: Counter[str], history: int, running: int,
          rounds: int) -> None:
    tag = f"h{history}"
    machine = setup(ddb, sfn, history, running, tag)

    def listed() -> int:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine, statusFilter="RUNNING")
        return sum(len(p["executions"]) for p in pages)

    assert listed() == running
    row("before: ListExecutions", history, *measure(listed, calls, rounds))
    lease = SlotLease(ddb, f"{SLOTS}-{tag}", LIMIT, Clock(), sfn, grace_seconds=60)
    for i in range(running):  # the running executions hold their slots
        lease.acquire(f"run-{i}", execution_arn(machine, f"run-{i}"))
    new, waits = execution_arn(machine, "new"), execution_arn(machine, "waits")
    row("after: acquire (free slot)", history, *measure(
        lambda: lease.acquire("new", new), calls, rounds, between=lambda: lease.release("new")))
    sfn.start_execution(stateMachineArn=machine, name="full")
    lease.acquire("full", execution_arn(machine, "full"))
    assert lease.acquire("waits", waits) is None
    row("after: acquire (pool full)", history, *measure(
        lambda: lease.acquire("waits", waits), calls, rounds))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--history", type=int, nargs="+", default=[0, 1000])
    ap.add_argument("--running", type=int, default=LIMIT - 1)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        ddb, sfn, calls = clients(f"http://127.0.0.1:{port}")
        print(f"limit {LIMIT}, {args.running} running, {args.rounds} rounds; ms per check")
        print(f"{'check':<28} {'history':>7} {'calls':>5}  {'API calls':<44} "
              f"{'median':>7} {'p95':>7}")
        for history in args.history:
            bench(ddb, sfn, calls, history, args.running, args.rounds)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
