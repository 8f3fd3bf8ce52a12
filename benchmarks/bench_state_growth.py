"""Per-request cost against stored state (issue 17, item 2): does an operation the platform or
the local cloud repeats get slower as tickets, executions, tasks or sessions pile up?

Each case stores ``n`` items of history (finished jobs, stopped tasks, ...) next to a few live
ones, then times the operation the platform really makes (its own code where it has one) in
process against moto with the local cloud's patches, and counts the items DynamoDB reads (what
AWS bills: ScannedCount). Times are the calling thread's CPU milliseconds (moto runs in it), so
neighbours on a shared machine do not blur them. Flat means the same p50 and items read at
every size.

    .venv/bin/python benchmarks/bench_state_growth.py [--sizes 10,5000] [--reps 30] [--old]

``--old`` runs the paths this issue replaced (the figures before the fix): the orphan scanner's
and the session list's Scans, the TTL sweep without its filter, the alarm engine's pass over
every datapoint, and moto without the local cloud's Query index and ECS bound
(``tradai_sim.cloud.state_indexes``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
from common import pct
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.unit.spec_tables import create_spec_table
from tradai.backtests.service import Owner
from tradai.backtests.store import TicketStore
from tradai.clock import Clock
from tradai.expiry import not_expired_condition
from tradai.health.state import HealthStateStore
from tradai.topology.load import load_topology
from tradai.trading.monitor import HeartbeatMonitor
from tradai.trading.sessions import TradingSessions
from tradai.trading.settings import TradingSettings
from tradai.workflows.cleanup import TaskCleaner
from tradai.workflows.orphans import OrphanScanner
from tradai.workflows.status import JobStatusStore
from tradai_sim.cloud import moto_patches
from tradai_sim.cloud.alarms import moto_view
from tradai_sim.cloud.dynamodb_ttl.part import due_in_moto
from tradai_sim.cloud.dynamodb_ttl.sweeper import delete_expired, sweep_table

REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's default
CLOCK = Clock(scale=1.0, origin=1_700_000_000)
LIVE_TTL = {"N": "4000000000"}
# The patches this issue added; --old leaves them out.
NEW_PATCH_MODULES = ("tradai_sim.cloud.state_indexes", "tradai_sim.cloud.dynamodb_json")


@dataclass
class Counted:
    """A boto3 client that adds up ScannedCount (the items DynamoDB read to answer)."""

    client: Any
    scanned: int = 0

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.client, name)
        if name not in ("query", "scan"):
            return fn

        def call(**kwargs: Any) -> Any:
            page = fn(**kwargs)
            self.scanned += int(page.get("ScannedCount", 0))
            return page

        return call


def apply_patches(old: bool) -> None:
    def new(patch: moto_patches.Patch) -> bool:
        cells = [c.cell_contents for c in (patch.make.__closure__ or ())]
        return any(m in cells for m in NEW_PATCH_MODULES)

    keep = [p for p in moto_patches.PATCHES if not (old and new(p))]
    moto_patches.PATCHES[:] = keep
    moto_patches.apply_patches()


def create_table(ddb: Any, spec_name: str) -> str:
    """The spec's table, keys and indexes as the stack creates them (the unit tests' helper)."""
    create_spec_table(ddb, spec_name, spec_name)
    return spec_name


def scan_all(ddb: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a Scan: the paths this issue replaced read the table this way."""
    out: list[dict[str, Any]] = []
    while True:
        page = ddb.scan(**kwargs)
        out += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def put_many(ddb: Any, table: str, items: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == 25:
            ddb.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        ddb.batch_write_item(RequestItems={table: batch})


def ticket(job_id: str, status: str, owner: str, created: int) -> dict[str, Any]:
    return {"job_id": {"S": job_id}, "status": {"S": status}, "owner": {"S": owner},
            "created_at": {"S": f"2026-11-{1 + created % 28:02d}T00:{created % 60:02d}:00"},
            "ttl": LIVE_TTL, "strategy": {"S": "S"}}


# -- cases: each returns (the operation, a spy counting items read or None) --------------------
Case = Callable[[int], tuple[Callable[[], Any], Counted | None]]


def tickets(n: int) -> tuple[Any, str]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = create_table(ddb, "workflow-state")
    put_many(ddb, table, (ticket(f"old-{i}", "COMPLETED" if i % 3 else "FAILED",
                                 f"user-{i % 50}", i) for i in range(n)))
    put_many(ddb, table, (ticket(f"run-{i}", "RUNNING", "alice", i) for i in range(3)))
    put_many(ddb, table, (ticket(f"alice-{i}", "COMPLETED", "alice", i) for i in range(20)))
    return ddb, table


def orphan_scan(old: bool) -> Case:
    def setup(n: int) -> tuple[Callable[[], Any], Counted | None]:
        ddb, table = tickets(n)
        spy = Counted(ddb)
        store = JobStatusStore(spy, table, CLOCK)
        scanner = OrphanScanner(store, None, None)  # type: ignore[arg-type]
        if not old:
            return scanner._running_jobs, spy

        def scan() -> list[dict[str, Any]]:  # the scanner before this issue: a Scan
            alive, names, values = not_expired_condition(CLOCK.now())
            return scan_all(
                spy, TableName=table, FilterExpression=f"#s = :running AND {alive}",
                ExpressionAttributeNames={"#s": "status", **names},
                ExpressionAttributeValues={":running": {"S": "RUNNING"}, **values})

        return scan, spy

    return setup


def list_by_owner(n: int) -> tuple[Callable[[], Any], Counted | None]:
    ddb, table = tickets(n)
    spy = Counted(ddb)
    store = TicketStore(spy, table, CLOCK)
    return (lambda: store.list_by_owner("alice", 20)), spy


def get_ticket(n: int) -> tuple[Callable[[], Any], Counted | None]:
    ddb, table = tickets(n)
    store = TicketStore(ddb, table, CLOCK)
    return (lambda: store.get("run-1")), None


def sessions_table(n: int) -> tuple[Any, str]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = create_table(ddb, "trading-heartbeats")
    now = CLOCK.now()

    def item(sid: str, owner: str, status: str) -> dict[str, Any]:
        return {"strategy_id": {"S": sid}, "owner": {"S": owner}, "status": {"S": status},
                "strategy": {"S": "S"}, "mode": {"S": "dry-run"}, "ttl": LIVE_TTL,
                "created_at": {"N": str(now - 60)}, "last_heartbeat": {"N": str(now - 5)}}

    put_many(ddb, table, (item(f"old-{i}", f"user-{i % 50}", "STOPPED") for i in range(n)))
    put_many(ddb, table, (item(f"live-{i}", "alice", "RUNNING") for i in range(5)))
    return ddb, table


def list_sessions(old: bool) -> Case:
    def setup(n: int) -> tuple[Callable[[], Any], Counted | None]:
        ddb, table = sessions_table(n)
        spy = Counted(ddb)
        svc = TradingSessions(spy, None, None, None, CLOCK,
                              TradingSettings(table_name=table))  # type: ignore[call-arg]
        if not old:
            return (lambda: svc.list_sessions(Owner("alice"))), spy

        def scan() -> list[dict[str, Any]]:  # the list before this issue: a Scan
            return scan_all(spy, TableName=table, FilterExpression="#o = :o",
                            ExpressionAttributeNames={"#o": "owner"},
                            ExpressionAttributeValues={":o": {"S": "alice"}})

        return scan, spy

    return setup


def heartbeat_sessions(n: int) -> tuple[Callable[[], Any], Counted | None]:
    ddb, table = sessions_table(n)
    spy = Counted(ddb)
    monitor = HeartbeatMonitor(spy, table, None, "", None, CLOCK)
    return (lambda: monitor.sessions(CLOCK.now())), spy


def health_states(n: int) -> tuple[Callable[[], Any], Counted | None]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = create_table(ddb, "service-health")
    # One item per service of the spec, whatever ran before: n does not apply.
    put_many(ddb, table, ({"service": {"S": s.name}, "status": {"S": "HEALTHY"}}
                          for s in load_topology().services))
    spy = Counted(ddb)
    store = HealthStateStore(spy, table)
    return store.all, spy


def ttl_sweep(old: bool) -> Case:
    """--old: the Scan every sweep made (a wall-clock table's, with no filter); now: the TTL
    part's walk of the state index's heap of TTL values (no item is due here)."""
    def setup(n: int) -> tuple[Callable[[], Any], Counted | None]:
        ddb, table = tickets(n)
        spy = Counted(ddb)
        if old:
            return (lambda: sweep_table(spy, table, "ttl", ["job_id"], CLOCK.now(),
                                        to_now_clock=lambda t: t)), spy
        ctx = SimpleNamespace(account_id=ACCOUNT, region=REGION)

        def sweep() -> int:
            found = due_in_moto(ctx, table, "ttl", ["job_id"], CLOCK.now(), 0.0, None)
            assert found is not None, "the state index is not installed"
            return delete_expired(spy, table, "ttl", ["job_id"], found)

        return sweep, spy

    return setup


def alarm_window(old: bool) -> Case:
    """The alarm engine's read for one evaluation: the datapoints of the last 5 minutes, with
    ``n`` minutes of history stored (20 metrics a minute, as the SQS sampler writes)."""

    def setup(n: int) -> tuple[Callable[[], Any], Counted | None]:
        cw = boto3.client("cloudwatch", region_name=REGION)
        now = CLOCK.now()
        for minute in range(n):
            at = moto_view.moto_time(now - 60 * (n - minute))
            cw.put_metric_data(Namespace="AWS/SQS", MetricData=[
                {"MetricName": "ApproximateNumberOfMessagesVisible", "Timestamp": at,
                 "Dimensions": [{"Name": "QueueName", "Value": f"q{q}"}], "Value": 1.0}
                for q in range(20)])
        backend = moto_view.cloudwatch_backend("123456789012", REGION)
        if old:
            return (lambda: moto_view.samples_by_metric(backend, now - 300)), None
        index = moto_view.SampleIndex()
        return (lambda: index.since(backend, now - 300)), None

    return setup


def sfn_machine() -> tuple[Any, str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name=f"m-{uuid.uuid4().hex[:8]}", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )["stateMachineArn"]
    return sfn, arn


def describe_execution(n: int) -> tuple[Callable[[], Any], Counted | None]:
    sfn, machine = sfn_machine()
    arns = [sfn.start_execution(stateMachineArn=machine, name=f"e{i}")["executionArn"]
            for i in range(n)]
    probe = arns[len(arns) // 2]
    return (lambda: sfn.describe_execution(executionArn=probe)), None


def start_execution(n: int) -> tuple[Callable[[], Any], Counted | None]:
    sfn, machine = sfn_machine()
    for i in range(n):
        sfn.start_execution(stateMachineArn=machine, name=f"e{i}")
    return (lambda: sfn.start_execution(stateMachineArn=machine,
                                        name=uuid.uuid4().hex)), None


def ecs_cluster(n: int) -> tuple[Any, TaskCleaner]:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="c")
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/18")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    net = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    ecs.register_task_definition(family="strategy", networkMode="awsvpc",
                                 requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
                                 containerDefinitions=[{"name": "s", "image": "x", "memory": 512}])

    def run(group: str) -> str:  # (moto keeps every task it ever ran)
        return str(ecs.run_task(cluster="c", taskDefinition="strategy", launchType="FARGATE",
                                group=group, networkConfiguration=net)["tasks"][0]["taskArn"])

    for i in range(n):
        ecs.stop_task(cluster="c", task=run(f"backtest:old-{i}"), reason="done")
    for i in range(3):
        run(f"backtest:run-{i}")
    return ecs, TaskCleaner(ecs, "c", "strategy")


def running_tasks(n: int) -> tuple[Callable[[], Any], Counted | None]:
    _, cleaner = ecs_cluster(n)
    return (lambda: list(cleaner.running_tasks())), None


def describe_task(n: int) -> tuple[Callable[[], Any], Counted | None]:
    ecs, cleaner = ecs_cluster(n)
    arn = next(iter(cleaner.running_tasks()))["taskArn"]
    return (lambda: ecs.describe_tasks(cluster="c", tasks=[arn])), None


def cases(old: bool) -> dict[str, Case]:
    return {
        "orphan scan: RUNNING jobs (workflow-state)": orphan_scan(old),
        "list backtests by owner (Query by-owner)": list_by_owner,
        "get a ticket (GetItem)": get_ticket,
        "TTL sweep of workflow-state (per sweep)": ttl_sweep(old),
        "list trading sessions (by owner)": list_sessions(old),
        "heartbeat check: sessions (Scan)": heartbeat_sessions,
        "health check: service states (Scan)": health_states,
        "Step Functions DescribeExecution": describe_execution,
        "Step Functions StartExecution": start_execution,
        "ECS running strategy tasks (List+Describe)": running_tasks,
        "ECS DescribeTasks (one task)": describe_task,
        "alarm evaluation: 5-min window (n minutes)": alarm_window(old),
    }


@contextmanager
def fresh_aws() -> Iterator[None]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def measure(setup: Case, n: int, reps: int) -> tuple[float, float, float | None]:
    with fresh_aws():
        op, spy = setup(n)
        op()  # warm: lazy structures are built on first use
        if spy is not None:
            spy.scanned = 0
        times = []
        for _ in range(reps):
            # This thread's CPU time: moto runs in process, in the caller's thread, so this is
            # the request's work; wall time on a shared machine measures the neighbours too.
            t0 = time.thread_time()
            op()
            times.append((time.thread_time() - t0) * 1000)
        read = spy.scanned / reps if spy is not None else None
    return pct(times, 0.5), pct(times, 0.99), read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,5000",
                        help="stored items (tickets, sessions, executions, tasks, minutes)")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--old", action="store_true", help="the paths before issue 17 item 2")
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    apply_patches(args.old)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'operation':46} {'stored':>6} {'p50 ms':>8} {'p99 ms':>8} {'items read':>10}"
          f"   ({'old' if args.old else 'new'} paths)")
    for name, setup in cases(args.old).items():
        if args.k.lower() not in name.lower():
            continue
        for n in sizes:
            p50, p99, read = measure(setup, n, args.reps)
            shown = "-" if read is None else f"{read:.0f}"
            print(f"{name:46} {n:>6} {p50:>8.2f} {p99:>8.2f} {shown:>10}", flush=True)


if __name__ == "__main__":
    main()
