"""The local cloud's indexes in moto (``tradai_sim.cloud.state_indexes``): a DynamoDB Query
reads only the items its key selects, answering what moto's full pass answers after every kind
of write; ECS forgets the oldest stopped tasks so ListTasks and DescribeTasks stay bounded."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.backtests.store import TicketStore
from tradai.clock import Clock
from tradai_sim.cloud import moto_patches, state_indexes
from tradai_sim.cloud.alarms import moto_view
from tradai_sim.cloud.ecs.runtime import KEEP_STOPPED

REGION = "eu-central-1"
TABLE = "wf"
AUDIT = "audit"
STATUSES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED")


def _ours(patch: moto_patches.Patch) -> bool:
    cells = [c.cell_contents for c in (patch.make.__closure__ or ())]
    return "tradai_sim.cloud.state_indexes" in cells


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in process with this module's patches only (taken from the record)."""
    with mock_aws():
        for patch in filter(_ours, moto_patches.PATCHES):
            owner, attr, original = patch.resolve()
            new = patch.make(original)
            new.__tradai_original__ = original  # as apply_patches records it
            monkeypatch.setattr(owner, attr, new)
        client = boto3.client("dynamodb", region_name=REGION)
        create_spec_table(client, "workflow-state", TABLE)
        create_spec_table(client, "registry-audit", AUDIT)
        yield client


class ReadSpy:
    """How many items each narrowed Query handed to moto, and whether any read them all."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.candidates: list[int] = []
        self.full_passes = 0
        real = state_indexes._candidates

        def candidates(*args: Any) -> Any:
            found = real(*args)
            if found is not None:
                self.candidates.append(len(found))
            return found

        monkeypatch.setattr(state_indexes, "_candidates", candidates)
        from moto.dynamodb.models.table import Table

        narrowed = Table.all_items
        spy = self

        def all_items(table: Any) -> Any:
            if getattr(state_indexes._scope, "table", None) is not table:
                spy.full_passes += 1
            return narrowed(table)

        monkeypatch.setattr(Table, "all_items", all_items)


def _ticket(job_id: str, status: str, owner: str) -> dict[str, Any]:
    return {"job_id": {"S": job_id}, "status": {"S": status}, "owner": {"S": owner},
            "created_at": {"S": f"2026-12-01T00:00:{len(job_id) % 60:02d}-{job_id}"}}


def _by_status(ddb: Any, status: str) -> list[str]:
    kwargs: dict[str, Any] = {"TableName": TABLE, "IndexName": "by-status",
                              "KeyConditionExpression": "#s = :s",
                              "ExpressionAttributeNames": {"#s": "status"},
                              "ExpressionAttributeValues": {":s": {"S": status}}}
    out: list[str] = []
    while True:
        page = ddb.query(**kwargs)
        out += [i["job_id"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return sorted(out)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _scanned(ddb: Any, status: str) -> list[str]:
    items = ddb.scan(TableName=TABLE)["Items"]
    return sorted(i["job_id"]["S"] for i in items if i.get("status", {}).get("S") == status)


def test_a_gsi_query_reads_only_the_items_of_its_hash_value(
        ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(300):
        ddb.put_item(TableName=TABLE, Item=_ticket(f"old-{i}", "COMPLETED", f"u{i % 7}"))
    for i in range(3):
        ddb.put_item(TableName=TABLE, Item=_ticket(f"run-{i}", "RUNNING", "alice"))
    spy = ReadSpy(monkeypatch)

    assert _by_status(ddb, "RUNNING") == ["run-0", "run-1", "run-2"]
    tickets, _ = TicketStore(ddb, TABLE, Clock()).list_by_owner("alice", 20)

    assert sorted(t["job_id"] for t in tickets) == ["run-0", "run-1", "run-2"]
    assert spy.candidates == [3, 3]  # moto's pass ran over 3 items each time, not 303
    assert spy.full_passes == 0


def test_a_table_query_reads_its_partition_only(ddb: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for s in range(50):
        for e in range(4):
            ddb.put_item(TableName=AUDIT, Item={"strategy": {"S": f"s{s}"},
                                                "event_id": {"S": f"e{e}"}})
    spy = ReadSpy(monkeypatch)

    page = ddb.query(TableName=AUDIT, KeyConditionExpression="strategy = :s",
                     ExpressionAttributeValues={":s": {"S": "s7"}}, ScanIndexForward=False,
                     Limit=3)

    assert [i["event_id"]["S"] for i in page["Items"]] == ["e3", "e2", "e1"]
    assert page["LastEvaluatedKey"] == {"strategy": {"S": "s7"}, "event_id": {"S": "e1"}}
    assert spy.candidates == [4] and spy.full_passes == 0


def test_the_index_follows_every_kind_of_write(ddb: Any) -> None:
    """After each write, the GSI Query answers what a full pass over the table answers."""
    rng = random.Random(17)
    _by_status(ddb, "RUNNING")  # build the index first, so every write below must keep it

    def check() -> None:
        for status in STATUSES:
            assert _by_status(ddb, status) == _scanned(ddb, status), status

    for step in range(120):
        job = f"j{rng.randrange(25)}"
        status = rng.choice(STATUSES)
        kind = step % 6
        if kind == 0:
            ddb.put_item(TableName=TABLE, Item=_ticket(job, status, "alice"))
        elif kind == 1:  # in place; creates the item when missing
            ddb.update_item(TableName=TABLE, Key={"job_id": {"S": job}},
                            UpdateExpression="SET #s = :s",
                            ExpressionAttributeNames={"#s": "status"},
                            ExpressionAttributeValues={":s": {"S": status}})
        elif kind == 2:
            ddb.delete_item(TableName=TABLE, Key={"job_id": {"S": job}})
        elif kind == 3:
            other = f"j{rng.randrange(25, 30)}"
            ddb.batch_write_item(RequestItems={TABLE: [
                {"PutRequest": {"Item": _ticket(other, status, "bob")}},
                {"DeleteRequest": {"Key": {"job_id": {"S": job}}}}]})
        elif kind == 4:
            ddb.transact_write_items(TransactItems=[{"Update": {
                "TableName": TABLE, "Key": {"job_id": {"S": job}},
                "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": {"S": status}}}}])
        else:  # a transaction that fails after its first write: moto puts the table back
            with pytest.raises(ClientError):
                ddb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": _ticket("jx", status, "carol")}},
                    {"Update": {"TableName": TABLE, "Key": {"job_id": {"S": job}},
                                "UpdateExpression": "SET #s = :s",
                                "ConditionExpression": "attribute_exists(nope)",
                                "ExpressionAttributeNames": {"#s": "status"},
                                "ExpressionAttributeValues": {":s": {"S": status}}}}])
        check()
    ddb.execute_statement(Statement=f"UPDATE \"{TABLE}\" SET status='FAILED' "
                                    "WHERE job_id='j3'")
    check()
    # REMOVE of the indexed attribute takes the item out of the index
    ddb.put_item(TableName=TABLE, Item=_ticket("gone", "RUNNING", "alice"))
    ddb.update_item(TableName=TABLE, Key={"job_id": {"S": "gone"}}, UpdateExpression="REMOVE #s",
                    ExpressionAttributeNames={"#s": "status"})
    check()
    assert "gone" not in _by_status(ddb, "RUNNING")


# -- ECS ------------------------------------------------------------------------------------------
@pytest.fixture
def ecs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        for patch in filter(_ours, moto_patches.PATCHES):
            owner, attr, original = patch.resolve()
            new = patch.make(original)
            new.__tradai_original__ = original  # as apply_patches records it
            monkeypatch.setattr(owner, attr, new)
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName="c")
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/18")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="g", Description="g",
                                          VpcId=vpc)["GroupId"]
        client.register_task_definition(
            family="strategy", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512",
            containerDefinitions=[{"name": "s", "image": "x", "memory": 512}])
        net = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}

        def run() -> str:
            return str(client.run_task(cluster="c", taskDefinition="strategy",
                                       launchType="FARGATE", networkConfiguration=net)
                       ["tasks"][0]["taskArn"])

        yield client, run


def test_ecs_forgets_the_oldest_stopped_tasks_beyond_what_it_keeps(
        ecs: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ecs.models import ecs_backends

    assert state_indexes.KEEP_STOPPED == KEEP_STOPPED  # the count the ECS runtime keeps
    monkeypatch.setattr(state_indexes, "KEEP_STOPPED", 10)  # fewer tasks to start
    client, run = ecs
    live = run()
    stopped = []
    for _ in range(10 + 5):
        arn = run()
        client.stop_task(cluster="c", task=arn, reason="done")
        stopped.append(arn)
    run()  # each RunTask forgets what is beyond the limit

    held = ecs_backends["123456789012"][REGION].tasks["c"]
    assert len(held) == 10 + 2  # the stopped ones kept, and the two running
    newest = client.describe_tasks(cluster="c", tasks=[stopped[-1], live])
    assert {t["taskArn"] for t in newest["tasks"]} == {stopped[-1], live}
    oldest = client.describe_tasks(cluster="c", tasks=[stopped[0]])
    assert oldest["tasks"] == []


# -- CloudWatch datapoints for the alarm engine ---------------------------------------------------
def _datum(ts: float, name: str, value: float, queue: str = "q") -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(namespace="AWS/SQS", name=name, value=value, unit="Count",
                           timestamp=moto_view.moto_time(ts),
                           dimensions=[SimpleNamespace(name="QueueName", value=queue)])


def test_the_alarm_engine_reads_each_datapoint_once_and_answers_as_a_full_pass() -> None:
    """``SampleIndex.since`` gives what ``samples_by_metric`` (a pass over every stored
    datapoint) gives, for windows over a growing history, converting each datapoint once."""
    from types import SimpleNamespace

    backend = SimpleNamespace(metric_data=[])
    index = moto_view.SampleIndex()
    rng = random.Random(5)
    t0 = 1_800_000_000.0
    for minute in range(400):
        for name in ("Depth", "Age"):
            # now and then a datapoint for an earlier minute (PutMetricData with a Timestamp)
            late = rng.random() < 0.1
            backend.metric_data.append(_datum(t0 + 60 * (minute - (5 if late else 0)), name,
                                              rng.random(), rng.choice("ab")))
        since = t0 + 60 * (minute - 5)
        got = index.since(backend, since)
        want = moto_view.samples_by_metric(backend, since)
        assert {k: sorted(v, key=lambda s: (s.timestamp, s.value)) for k, v in got.items()} \
            == {k: sorted(v, key=lambda s: (s.timestamp, s.value)) for k, v in want.items()}
    assert index.converted == len(backend.metric_data)  # each once, not once per evaluation


# -- the TTL sweeper ----------------------------------------------------------------------------
def test_a_ttl_sweep_is_sent_only_the_items_due(ddb: Any) -> None:
    """The sweep's Scan filters on the TTL attribute: only the due items come back, and the
    deletions are exactly those ``due`` decides (five-year rule, lag, non-numbers kept)."""
    from tradai_sim.cloud.dynamodb_ttl.sweeper import FIVE_YEARS, sweep_table

    now, lag = 1_800_000_000.0, 3600.0
    ttls = {"due": now - lag - 10, "in-lag": now - lag + 10, "at-lag": now - lag,
            "live": now + 60, "ancient": now - FIVE_YEARS - 10}
    for job, ttl in ttls.items():
        ddb.put_item(TableName=TABLE, Item={"job_id": {"S": job}, "ttl": {"N": repr(ttl)}})
    ddb.put_item(TableName=TABLE, Item={"job_id": {"S": "text"}, "ttl": {"S": "soon"}})
    for i in range(50):
        ddb.put_item(TableName=TABLE, Item={"job_id": {"S": f"x{i}"}, "ttl": {"N": "4000000000"}})
    returned: list[int] = []
    ddb.meta.events.register("after-call.dynamodb.Scan",
                             lambda parsed, **_: returned.append(parsed["Count"]))

    assert sweep_table(ddb, TABLE, "ttl", ["job_id"], now, lag) == 1

    assert returned == [1]  # not 56 items carried over to the sweeper
    left = {i["job_id"]["S"] for i in ddb.scan(TableName=TABLE)["Items"]}
    assert left == set(ttls) - {"due"} | {"text"} | {f"x{i}" for i in range(50)}


def _swept(ddb: Any, now: float, lag: float, monkeypatch: pytest.MonkeyPatch
           ) -> tuple[list[str], int]:
    """One sweep as the TTL part makes it in the cloud process: (deleted job ids, TTL values
    the index looked at)."""
    from types import SimpleNamespace

    from tradai_sim.cloud.dynamodb_ttl import part
    from tradai_sim.cloud.dynamodb_ttl.sweeper import delete_expired

    looked = [0]
    real = part.verdict

    def counted(*args: Any) -> str:
        looked[0] += 1
        return real(*args)

    monkeypatch.setattr(part, "verdict", counted)
    ctx = SimpleNamespace(account_id="123456789012", region=REGION)
    found = part.due_in_moto(ctx, TABLE, "ttl", ["job_id"], now, lag, None)  # type: ignore
    assert found is not None, "the sweep fell back to a Scan"
    delete_expired(ddb, TABLE, "ttl", ["job_id"], found)
    return sorted(i["job_id"]["S"] for i in found), looked[0]


def test_a_ttl_sweep_reads_the_items_due_not_the_table(
        ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TTL part's sweep walks a heap of TTL values: the values it looks at are the due
    items and the first that is not (plus entries a write left stale), at 2,000 live items.
    It deletes what the Scan-based sweep decides (five-year rule, lag, non-numbers kept), and
    follows writes made after the heap was built."""
    from tradai_sim.cloud.dynamodb_ttl.sweeper import FIVE_YEARS

    now, lag = 1_800_000_000.0, 3600.0
    ttls = {"due": now - lag - 10, "due-2": now - lag - 500, "in-lag": now - lag + 10,
            "at-lag": now - lag, "live": now + 60, "ancient": now - FIVE_YEARS - 10}
    for job, ttl in ttls.items():
        ddb.put_item(TableName=TABLE, Item={"job_id": {"S": job}, "ttl": {"N": repr(ttl)}})
    ddb.put_item(TableName=TABLE, Item={"job_id": {"S": "text"}, "ttl": {"S": "soon"}})
    for i in range(2000):
        ddb.put_item(TableName=TABLE, Item={"job_id": {"S": f"x{i}"}, "ttl": {"N": "4000000000"}})

    deleted, looked = _swept(ddb, now, lag, monkeypatch)
    assert deleted == ["due", "due-2"]
    assert looked <= 4  # ancient, due-2, due, then the first not due
    left = {i["job_id"]["S"] for i in ddb.scan(TableName=TABLE)["Items"]}
    assert left == set(ttls) - {"due", "due-2"} | {"text"} | {f"x{i}" for i in range(2000)}

    # after the heap exists: a pushed-back TTL survives, a new due item is found
    ddb.update_item(TableName=TABLE, Key={"job_id": {"S": "in-lag"}},
                    UpdateExpression="SET #t = :t", ExpressionAttributeNames={"#t": "ttl"},
                    ExpressionAttributeValues={":t": {"N": repr(now + 10_000)}})
    ddb.put_item(TableName=TABLE, Item={"job_id": {"S": "late-due"},
                                        "ttl": {"N": repr(now - lag - 1)}})
    deleted, looked = _swept(ddb, now + 60, lag, monkeypatch)
    assert deleted == ["at-lag", "late-due"]  # in-lag moved on; at-lag is due a minute later
    assert looked <= 6
    assert _swept(ddb, now + 60, lag, monkeypatch)[0] == []
