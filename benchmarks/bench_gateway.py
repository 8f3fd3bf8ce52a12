"""Latency through the API gateway stand-in (gateway -> ALB -> backend -> DynamoDB/SQS/MLflow)
at a fixed concurrency: backtest submission (target p99 < 150 ms, pattern 2), status and
strategy list queries (target p99 < 100 ms, pattern 1); and the CPU each request costs in
every process it crosses (gateway, ALB, backend task, emulator, MLflow, and the VPC router
between the task and the AWS APIs), a figure that stays stable on a loaded machine where wall
times do not.

    .venv/bin/python benchmarks/bench_gateway.py [--concurrency 10] [--requests 200]
        [--profile DIR]  # each process's CPU by function, per route (profile_hook/)

CPU per request: utime + stime (``/proc/<pid>/stat``; with the reaped children's) of every
process in each process's session, read before and after a route's load, minus what the same
sessions spend idle for as long (measured over 10 s once the seed is done: health checks,
target discovery, schedulers), divided by the requests.
Starts its own local cloud (the rate limit raised so the load is not refused), stops it after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.cloud import RunningCloud, start_cloud, wait_for

os.environ["TRADAI_SIM_GATEWAY_RATE_LIMIT"] = "1000000/300"


CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILING = False
IDLE_SECONDS = 10.0
CROSSED = ("gateway", "alb", "backend", "emulator", "mlflow", "router")


def stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def session_roles(cloud: RunningCloud) -> dict[int, str]:
    """Session id -> the role of the process that leads it. The cloud process starts each edge
    process and each task in a session of its own, so a session holds a process's children;
    only this stack's (children of its cloud process): other stacks may run on the machine."""
    assert cloud.proc is not None
    leaders = {cloud.proc.pid: "emulator"}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = stat_fields(pid)
        # fields[1] is the parent (field 4), fields[3] the session (field 6)
        if fields is None or int(fields[1]) != cloud.proc.pid or int(fields[3]) != pid:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for needle, role in (("tradai_sim.edge.gateway", "gateway"),
                             ("tradai_sim.edge.alb", "alb"),
                             ("tradai.services.backend_api", "backend"), ("mlflow", "mlflow"),
                             ("tradai_sim.vpc.router", "router")):
            if needle in cmd:
                leaders[pid] = role
    return leaders


def cpu_ms(roles: dict[int, str]) -> dict[str, float]:
    """CPU milliseconds (user + system) so far of every live process, by its session's role."""
    out = dict.fromkeys(CROSSED, 0.0)
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        fields = stat_fields(int(pid.name))
        if fields is None or int(fields[3]) not in roles:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        if roles[int(fields[3])] != "emulator":
            # and its reaped children's (cutime, cstime): MLflow's server starts short-lived
            # processes, whose CPU would otherwise vanish from the sum as they exit. Not the
            # cloud process's: what it reaps are other sessions (tasks, functions).
            ticks += int(fields[13]) + int(fields[14])
        out[roles[int(fields[3])]] += ticks * 1000 / CLK_TCK
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def token(cloud: RunningCloud) -> str:
    cognito = cloud.status()["resources"]["cognito"]
    creds = json.loads((cloud.state_dir / "dev-user.json").read_text())
    return str(cloud.client("cognito-idp").admin_initiate_auth(
        UserPoolId=cognito["user_pool_id"], ClientId=cognito["client_id"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": creds["username"], "PASSWORD": creds["password"]})[
        "AuthenticationResult"]["AccessToken"])


def measure(label: str, calls: list[Callable[[httpx.Client], httpx.Response]],
            concurrency: int, clients: list[httpx.Client], roles: dict[int, str],
            idle_per_s: dict[str, float]) -> dict[str, Any]:
    def timed(i: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        status = calls[i](clients[i % concurrency]).status_code
        return (time.perf_counter() - t0) * 1000, status
    flag = Path(os.environ["BENCH_PROFILE_DIR"]) / "on" if PROFILING else None
    if flag:
        flag.write_text(label)
    before, t0 = cpu_ms(roles), time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(timed, range(len(calls))))
    wall = time.perf_counter() - t0
    if flag:
        flag.unlink()
    after = cpu_ms(roles)
    cpu = {k: (after[k] - before[k] - idle_per_s[k] * wall) / len(calls) for k in CROSSED}
    ms = [r[0] for r in results]
    codes: dict[int, int] = {}
    for _, c in results:
        codes[c] = codes.get(c, 0) + 1
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
            "mean_ms": statistics.fmean(ms), "per_s": len(ms) / wall, "codes": codes,
            "cpu_ms": cpu}


@contextlib.contextmanager
def consumer_paused(cloud: RunningCloud) -> Any:
    """Measure the edge, not the backtests: hold the queue's consumer if there is one, and
    drain the queue meanwhile (moto's FIFO send rescans the whole queue: at 100 waiting
    messages a send takes ~33 ms instead of ~3 ms, which AWS does not do)."""
    lam = cloud.client("lambda")
    arn = cloud.status()["resources"]["queues"]["arns"]["backtest-queue.fifo"]
    ids = [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]
           if m["EventSourceArn"] == arn]
    for i in ids:
        lam.update_event_source_mapping(UUID=i, Enabled=False)
    sqs = cloud.client("sqs")
    url = cloud.status()["resources"]["queues"]["urls"]["backtest-queue.fifo"]
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
            if msgs:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(msgs)])
    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        yield
    finally:
        stop.set()
        drainer.join(timeout=5)
        sqs.purge_queue(QueueUrl=url)
        for i in ids:
            lam.update_event_source_mapping(UUID=i, Enabled=True)


def run(concurrency: int, requests: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    cloud = start_cloud(state, time_scale=20.0, timeout=120)
    try:
        gateway = cloud.status()["resources"]["endpoints"]["gateway"]
        headers = {"Authorization": f"Bearer {token(cloud)}"}
        nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]  # as the tradai CLI does
        clients = [httpx.Client(base_url=gateway, headers=headers, timeout=30,
                                transport=httpx.HTTPTransport(socket_options=nodelay))
                   for _ in range(concurrency)]
        def strategies() -> Any:
            with contextlib.suppress(httpx.HTTPError):  # a slow start may time a request out
                r = clients[0].get("/api/v1/strategies")
                return r.status_code == 200 and r.json()["strategies"]
            return None
        listed = wait_for(strategies, timeout=400, interval=1)
        name = listed[0]["name"]
        body = {"strategy": name, "pairs": ["BTC/USDT"], "timeframe": "5m",
                "timerange": "20240101-20240301"}
        out: dict[str, Any] = {"strategy": name}
        # The example strategies' runs are still being written to MLflow after the first is
        # listed: wait for the seed to end, or its CPU would count as the requests'.
        wait_for(lambda: cloud.status()["parts"]["seed"]["state"] in ("done", "failed"),
                 timeout=400, interval=1)
        roles = session_roles(cloud)
        out["roles"] = sorted(set(roles.values()))
        with consumer_paused(cloud):
            for c in clients:  # warm connections and caches
                c.get("/api/v1/backtests")
            # What the processes spend with no request (health checks, target discovery,
            # the drainer's long polls), subtracted from each load's figure.
            idle0 = cpu_ms(roles)
            time.sleep(IDLE_SECONDS)
            idle = {k: (v - idle0[k]) / IDLE_SECONDS for k, v in cpu_ms(roles).items()}
            out["idle_ms_per_s"] = idle
            out["submit"] = measure("submit", [
                lambda c: c.post("/api/v1/backtests", json=body,
                                 headers={"Idempotency-Key": uuid.uuid4().hex})
                for _ in range(requests)], concurrency, clients, roles, idle)
            jobs = [b["job_id"] for b in clients[0].get(
                "/api/v1/backtests", params={"limit": 50}).json()["backtests"]]
            paths = [f"/api/v1/backtests/{jobs[i % len(jobs)]}" for i in range(requests)]
            out["status"] = measure("status", [lambda c, p=p: c.get(p) for p in paths], concurrency,
                                    clients, roles, idle)
            out["strategies"] = measure("strategies", [
                lambda c: c.get("/api/v1/strategies") for _ in range(requests)], concurrency,
                clients, roles, idle)
        for c in clients:
            c.close()
        return out
    finally:
        cloud.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--profile", type=Path, help="write each process's CPU by function here")
    args = ap.parse_args()
    if args.profile:  # before the stack starts: every process it starts inherits these
        global PROFILING
        PROFILING = True
        args.profile.mkdir(parents=True, exist_ok=True)
        # ECS containers inherit PYTHONPATH but not the rest of this shell's environment
        # (as on Fargate), so the output folder is written into a hook of the run's own.
        real = Path(__file__).resolve().parent / "profile_hook" / "sitecustomize.py"
        hook = args.profile.resolve() / "hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(
            f"import os\nos.environ.setdefault('BENCH_PROFILE_DIR', "
            f"{str(args.profile.resolve())!r})\n"
            f"exec(compile(open({str(real)!r}).read(), {str(real)!r}, 'exec'))\n")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
        os.environ["BENCH_PROFILE_DIR"] = str(args.profile.resolve())
    res = run(args.concurrency, args.requests)
    targets = {"submit": 150, "status": 100, "strategies": 100}
    print(f"through the gateway, concurrency {args.concurrency}, {args.requests} requests each "
          f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}); processes: "
          f"{', '.join(res['roles'])}")
    for key, target in targets.items():
        r = res[key]
        verdict = "ok" if r["p99_ms"] < target else "over"
        print(f"{key:<11} p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
              f"mean {r['mean_ms']:6.1f} ms  {r['per_s']:6.1f}/s  codes {r['codes']}  "
              f"(target p99 < {target} ms: {verdict})")
    idle = res["idle_ms_per_s"]
    print("idle CPU ms per s:", "  ".join(f"{p} {idle[p]:.1f}" for p in CROSSED))
    print("CPU ms per request (net of idle):", "  ".join(f"{p:>8}" for p in CROSSED), "    total")
    for key in targets:
        cpu = res[key]["cpu_ms"]
        print(f"{key:<11}" + " " * 22 + "  ".join(f"{cpu[p]:8.2f}" for p in CROSSED)
              + f"  {sum(cpu.values()):8.2f}")


if __name__ == "__main__":
    main()
