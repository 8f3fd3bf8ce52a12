"""A backlog of backtests: 1,000 submissions from 20 users at concurrency 10 through the gateway
while the strategy-task limit holds (10 run, the rest wait on the queue).

Prints: submit p50/p99 over the whole run (accepted submissions; 429s counted apart), status
and list p99 with the backlog in place, CPU used by the cloud process (moto, the control plane)
while the backlog waits, the peak of strategy tasks running at once, then the bulk cancellation
(one call per user) and the time until every ticket is settled and the queue and DLQ are empty.

    .venv/bin/python benchmarks/bench_backlog.py [--submissions 1000] [--users 20]
        [--concurrency 10] [--idle-seconds 20]

Starts its own local cloud (time scale 20, the spec's rate limit), stops it after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import pct

from tests.integration.cloud import RunningCloud, start_cloud, wait_for
from tradai.clock import Clock
from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.drills import accounting, backlog, queues
from tradai_sim.drills.context import LOCAL, DrillContext


def _reads(ctx: DrillContext, paths: list[tuple[str, str]], concurrency: int
           ) -> dict[str, float]:
    pool = backlog.pool(ctx)

    def timed(item: tuple[str, str]) -> tuple[float, int | str]:
        key, path = item
        t0 = time.perf_counter()
        try:
            r = requests.get(f"{ctx.api_url}{path}", timeout=30,
                             headers={"Authorization": f"Bearer {pool.token(key)}"})
        except requests.RequestException as exc:  # counted, not fatal: the figure says so
            return (time.perf_counter() - t0) * 1000, type(exc).__name__
        return (time.perf_counter() - t0) * 1000, r.status_code

    with ThreadPoolExecutor(concurrency) as workers:
        results = list(workers.map(timed, paths))
    ms = [m for m, code in results if code == 200]
    return {"n": len(results), "ok": len(ms), "p50_ms": pct(ms, 0.5) if ms else -1,
            "p99_ms": pct(ms, 0.99) if ms else -1,
            "codes": dict(Counter(code for _, code in results))}


def _say(line: str) -> None:
    """Each phase's figures as soon as it ends (a later phase may take long, or fail)."""
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


def _watch_tasks(ctx: DrillContext, limit: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        try:
            backlog.task_limit_check(ctx, limit)
        except Exception:  # a busy moment of the control API: look again
            continue


def run(cloud: RunningCloud, submissions: int, users: int, concurrency: int,
        idle_s: float) -> dict[str, Any]:
    os.environ.update({"AWS_ENDPOINT_URL": cloud.endpoint, "AWS_REGION": cloud.region,
                       "AWS_DEFAULT_REGION": cloud.region, **EMULATOR_CREDENTIALS})
    wait_for(lambda: cloud.status()["parts"]["seed"]["state"] == "done", timeout=600,
             interval=1)
    status = cloud.status()
    ctx = DrillContext(LOCAL, cloud.region, cloud.env, uuid.uuid4().hex[:8],
                       Clock(scale=float(status["time_scale"]),
                             origin=float(status["clock_origin"])),
                       endpoint=cloud.endpoint,
                       api_url=status["resources"]["endpoints"]["gateway"],
                       state_dir=cloud.state_dir, status_cache=status)
    ctx.started_at = ctx.now()
    limit = int(os.environ.get("TRADAI_BACKTEST_MAX_CONCURRENT") or 10)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_tasks, args=(ctx, limit, stop), daemon=True)
    watcher.start()
    out: dict[str, Any] = {"limit": limit}
    body = {"strategy": "EmaCrossover", "alias": "champion", "pairs": ["BTC/USDT"],
            "timerange": "20260901-20260908"}
    t0 = time.perf_counter()
    backlog.storm(ctx, submissions, users, concurrency, body, "bench")
    out["submit_wall_s"] = time.perf_counter() - t0
    answers = backlog.answers(ctx)
    accepted = [a.latency_ms for a in answers if a.job_id]
    out["submit"] = {"accepted": len(accepted), "p50_ms": pct(accepted, 0.5),
                     "p99_ms": pct(accepted, 0.99),
                     "answers": dict(Counter(str(a.status) for a in answers))}
    out["verdict"] = backlog.submissions_verdict(ctx).detail
    _say(f"submitted in {out['submit_wall_s']:.1f} s: {out['submit']}; {out['verdict']}")
    out["queued_after_submit"] = queues.depth(ctx, "backtest-queue.fifo")
    jobs = [(t.owner or "", t.job_id) for t in ctx.tickets]
    status_paths = [(jobs[i % len(jobs)][0], f"/api/v1/backtests/{jobs[i % len(jobs)][1]}")
                    for i in range(200)]
    list_paths = [(f"u{i % users:02d}", "/api/v1/backtests?limit=50") for i in range(200)]
    out["status"] = _reads(ctx, status_paths, concurrency)
    out["list"] = _reads(ctx, list_paths, concurrency)
    _say(f"with {out['queued_after_submit']} waiting: status {out['status']}, "
         f"list {out['list']}")
    proc = psutil.Process(cloud.proc.pid) if cloud.proc else None
    if proc is not None:
        before = proc.cpu_times()
        time.sleep(idle_s)
        after = proc.cpu_times()
        used = (after.user + after.system) - (before.user + before.system)
        out["cloud_cpu"] = {"wall_s": idle_s, "cpu_s": used, "percent_of_core":
                            100 * used / idle_s,
                            "queued": queues.depth(ctx, "backtest-queue.fifo")}
        _say(f"cloud CPU while the backlog waits: {out['cloud_cpu']}")
    t0 = time.perf_counter()
    out["cancel"] = backlog.cancel_queued(ctx, "bench")
    out["cancel_wall_s"] = time.perf_counter() - t0

    def drained() -> bool:
        ok, detail = accounting.tickets_state(ctx)
        out["tickets"] = detail
        return ok and queues.depth(ctx, "backtest-queue.fifo") == 0

    wait_for(drained, timeout=3600, interval=2)
    out["drain_wall_s"] = time.perf_counter() - t0
    # Nothing is left to move a message into the DLQ: what it holds now stays (a violation).
    out["dlq"] = queues.depth(ctx, "backtest-dlq.fifo")
    out["drain_simulated_s"] = out["drain_wall_s"] * cloud.time_scale
    stop.set()
    watcher.join(timeout=5)
    ok, detail = backlog.task_limit_check(ctx, limit)
    out["task_limit"] = {"held": ok, "detail": detail}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--submissions", type=int, default=1000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-backlog-"))
    cloud = start_cloud(state, time_scale=20.0, timeout=180)
    try:
        res = run(cloud, args.submissions, args.users, args.concurrency, args.idle_seconds)
    finally:
        cloud.stop()
    s = res["submit"]
    print(f"backlog: {args.submissions} submissions from {args.users} users at concurrency "
          f"{args.concurrency} ({os.cpu_count()} cores), strategy-task limit {res['limit']}")
    print(f"submit      {s['accepted']} accepted in {res['submit_wall_s']:.1f} s: "
          f"p50 {s['p50_ms']:.1f} ms  p99 {s['p99_ms']:.1f} ms  answers {s['answers']}")
    print(f"            {res['verdict']}")
    print(f"queued      {res['queued_after_submit']} messages waiting after the submissions")
    for key in ("status", "list"):
        r = res[key]
        print(f"{key:<11} p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  "
              f"codes {r['codes']} (backlog in place)")
    if "cloud_cpu" in res:
        c = res["cloud_cpu"]
        print(f"cloud CPU   {c['cpu_s']:.2f} s in {c['wall_s']:.0f} s wall "
              f"({c['percent_of_core']:.1f}% of a core) with {c['queued']} messages waiting")
    print(f"cancel      {res['cancel']['cancelled']} queued backtests by "
          f"{res['cancel']['users']} users in {res['cancel_wall_s']:.2f} s")
    print(f"drain       settled and queue empty {res['drain_wall_s']:.1f} s wall "
          f"({res['drain_simulated_s']:.0f} simulated s) after the cancel: {res['tickets']}")
    print(f"dlq         {res['dlq']} message(s) in backtest-dlq.fifo"
          + (" (a violation: a waiting job ran out of receives)" if res["dlq"] else ""))
    print(f"task limit  {'held' if res['task_limit']['held'] else 'BROKEN'}: "
          f"{res['task_limit']['detail']}")
    if res["dlq"] or not res["task_limit"]["held"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
