"""SQS call latency against queue depth in the local cloud: p50/p99 of SendMessage,
ReceiveMessage, ChangeMessageVisibility and DeleteMessage with 0, 100, 1,000 and 10,000
messages waiting over 100 message groups, in a FIFO and a standard queue.

    .venv/bin/python benchmarks/bench_queue_depth.py [--calls 200] [--depths 0,100,1000,10000]
    .venv/bin/python benchmarks/bench_queue_depth.py --unpatched --depths 0,100,1000,2000
    .venv/bin/python benchmarks/bench_queue_depth.py --in-process [--unpatched]

``--unpatched`` starts the cloud with ``TRADAI_SIM_SQS_INDEX=off``: moto's own scans, the
curve before the index (filling 10,000 messages that way takes tens of minutes: each send
scans the queue a dozen times). Each round keeps the depth: send one message, receive one
(from the group that is first in send order), change its visibility, delete it.

``--in-process`` runs moto in this process (mock_aws, the same SQS patches the cloud applies,
the same request parsing and serialisation) and times each call in CPU seconds of this
thread (``time.thread_time``): the emulator's own work per call, which other processes on a
loaded machine do not inflate the way they inflate wall latency over HTTP.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import free_port, pct

from tradai_sim.stack import launcher

GROUPS = 100
OPS = ("send", "receive", "change-visibility", "delete")


def client(endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=endpoint, region_name="eu-central-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))


class Queue:
    def __init__(self, sqs: Any, fifo: bool, clock: Any = time.perf_counter) -> None:
        self.sqs, self.fifo, self.clock = sqs, fifo, clock
        name = "bench-depth" + (".fifo" if fifo else "")
        attrs = {"FifoQueue": "true"} if fifo else {}
        self.url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        self.sent = 0

    def entry(self) -> dict[str, Any]:
        n, self.sent = self.sent, self.sent + 1
        out: dict[str, Any] = {"Id": str(n % 10), "MessageBody": f'{{"n": {n}}}'}
        if self.fifo:
            out |= {"MessageGroupId": f"g{n % GROUPS}", "MessageDeduplicationId": f"m{n}"}
        return out

    def fill_to(self, depth: int) -> None:
        waiting = self.depth()
        while waiting < depth:
            batch = [self.entry() for _ in range(min(10, depth - waiting))]
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=batch)
            waiting += len(batch)

    def depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"])

    def round(self) -> dict[str, float]:
        took: dict[str, float] = {}

        def timed(op: str, call: Any, **kw: Any) -> Any:
            t0 = self.clock()
            out = call(QueueUrl=self.url, **kw)
            took[op] = (self.clock() - t0) * 1000
            return out

        entry = self.entry()
        entry.pop("Id")
        timed("send", self.sqs.send_message, **entry)
        got = timed("receive", self.sqs.receive_message, MaxNumberOfMessages=1,
                    VisibilityTimeout=30)["Messages"]
        handle = got[0]["ReceiptHandle"]
        timed("change-visibility", self.sqs.change_message_visibility, ReceiptHandle=handle,
              VisibilityTimeout=60)
        timed("delete", self.sqs.delete_message, ReceiptHandle=handle)
        return took


def measure(queue: Queue, depth: int, calls: int) -> dict[str, tuple[float, float]]:
    queue.fill_to(depth)
    for _ in range(10):  # warm: connection, code paths
        queue.round()
    samples: dict[str, list[float]] = {op: [] for op in OPS}
    for _ in range(calls):
        for op, ms in queue.round().items():
            samples[op].append(ms)
    return {op: (statistics.median(v), pct(v, 0.99)) for op, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200, help="rounds per depth and queue")
    ap.add_argument("--depths", default="0,100,1000,10000")
    ap.add_argument("--unpatched", action="store_true",
                    help="without the SQS index (moto's scans): the curve before")
    ap.add_argument("--in-process", action="store_true",
                    help="moto in this process, CPU ms per call instead of wall ms over HTTP")
    args = ap.parse_args()
    depths = sorted(int(d) for d in args.depths.split(","))
    if args.unpatched:
        os.environ["TRADAI_SIM_SQS_INDEX"] = "off"  # the cloud process inherits it
    rows = run_in_process(depths, args.calls) if args.in_process else run_cloud(depths,
                                                                                 args.calls)
    label = "unpatched (moto's scans)" if args.unpatched else "with the SQS index"
    unit = "CPU ms per call, in process" if args.in_process else "wall ms over HTTP"
    print(f"\nSQS latency by queue depth, {label}, {GROUPS} groups, {args.calls} calls each, "
          f"p50 / p99, {unit}")
    print(f"{'queue':9} {'depth':>6}  " + "  ".join(f"{op:>19}" for op in OPS))
    for fifo, depth, res in rows:
        cells = "  ".join(f"{res[op][0]:8.2f} / {res[op][1]:7.2f}" for op in OPS)
        print(f"{'fifo' if fifo else 'standard':9} {depth:>6}  {cells}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


def run_all(sqs: Any, depths: list[int], calls: int, clock: Any) -> list[Any]:
    rows = []
    for fifo in (True, False):
        queue = Queue(sqs, fifo, clock)
        for depth in depths:
            rows.append((fifo, depth, res := measure(queue, depth, calls)))
            print(f"  {'fifo' if fifo else 'standard'} depth {depth}: " + ", ".join(
                f"{op} {res[op][0]:.2f}/{res[op][1]:.2f}" for op in OPS), flush=True)
    return rows


def run_in_process(depths: list[int], calls: int) -> list[Any]:
    from moto import mock_aws

    from tradai_sim.cloud.moto_patches import PATCHES

    for patch in PATCHES:  # the cloud's SQS patches, in its order (this process runs no parts)
        if patch.target.startswith("moto.sqs."):
            owner, attr, original = patch.resolve()
            new = patch.make(original) if patch.wrap else patch.make()
            new.__tradai_original__ = original
            setattr(owner, attr, new)
    with mock_aws():
        return run_all(client("https://sqs.eu-central-1.amazonaws.com"), depths, calls,
                       time.thread_time)


def settle(pid: int, quiet_percent: float = 25.0, window_s: float = 2.0,
           limit_s: float = 240.0) -> float:
    """Wait until the stack (the cloud and every process it started) has booted: its CPU over
    a window falls under ``quiet_percent`` of a core. Otherwise the first rows measure the
    services starting. Returns the seconds waited."""
    import psutil

    began = time.monotonic()
    root = psutil.Process(pid)
    while time.monotonic() - began < limit_s:
        procs = [root, *root.children(recursive=True)]
        before = {p.pid: _cpu(p) for p in procs}
        time.sleep(window_s)
        used = sum(_cpu(p) - before[p.pid] for p in procs)
        if used / window_s * 100 < quiet_percent:
            break
    return time.monotonic() - began


def _cpu(proc: Any) -> float:
    try:
        t = proc.cpu_times()
        return float(t.user + t.system)
    except Exception:  # exited meanwhile
        return 0.0


def run_cloud(depths: list[int], calls: int) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        rec = launcher.start(state, free_port(), time_scale=20.0)
        try:
            print(f"  the stack settled after {settle(rec.pid):.0f} s", flush=True)
            return run_all(client(rec.endpoint), depths, calls, time.perf_counter)
        finally:
            launcher.stop(state)


if __name__ == "__main__":
    main()
