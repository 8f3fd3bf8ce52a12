"""Backtest slots (tradai.workflows.slots): the strategy-task limit as a conditional lease.

Concurrent acquirers never take more slots than there are; a job acquiring again gets its own
slot back; a holder whose execution is no longer RUNNING, or never started within the grace
period, loses its slot when the pool is full; the workflow's final status and the orphan
scanner free it. Against moto's DynamoDB and Step Functions (an execution of a moto state
machine stays RUNNING until it is stopped)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.clock import Clock
from tradai.workflows.orchestration import AtCapacity, WorkflowStarter, execution_arn
from tradai.workflows.orphans import OrphanScanner
from tradai.workflows.slots import SlotLease
from tradai.workflows.status import JobStatusStore
from tradai.workflows.updates import apply, release_slot

REGION = "eu-central-1"
SLOTS = "tradai-test-backtest-slots"
STATE = "tradai-test-workflow-state"
GRACE = 60.0
T0 = 1_800_000_000.0


class FakeClock(Clock):
    """The platform clock, moved by the test."""

    def __init__(self) -> None:
        super().__init__(scale=1.0, origin=T0)
        object.__setattr__(self, "t", T0)

    def now(self) -> float:
        return float(self.t)  # type: ignore[attr-defined]

    def advance(self, seconds: float) -> None:
        object.__setattr__(self, "t", self.t + seconds)  # type: ignore[attr-defined]


@dataclass
class Aws:
    ddb: Any
    sfn: Any
    machine: str
    clock: FakeClock

    def lease(self, size: int, ddb: Any = None) -> SlotLease:
        return SlotLease(ddb or self.ddb, SLOTS, size, self.clock, self.sfn, GRACE)

    def arn(self, job_id: str) -> str:
        return execution_arn(self.machine, job_id)

    def run(self, job_id: str) -> str:
        return str(self.sfn.start_execution(stateMachineArn=self.machine, name=job_id)[
            "executionArn"])

    def holders(self, size: int = 1) -> dict[int, str]:
        return {i: s.holder for i, s in self.lease(size).held().items()}


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_spec_table(ddb, "backtest-slots", SLOTS)
        create_spec_table(ddb, "workflow-state", STATE)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="tradai-test-backtest-workflow", roleArn="arn:aws:iam::123456789012:role/x",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                   "End": True}}}))
        yield Aws(ddb, sfn, machine["stateMachineArn"], FakeClock())


class Racing:
    """Every acquirer has read the pool before any of them writes: each one's first write
    waits for all the others at a barrier; then DynamoDB applies writes to an item one at a
    time (the lock: moto's in-process backend does not serialise them itself)."""

    def __init__(self, ddb: Any, parties: int) -> None:
        self.ddb = ddb
        self.barrier = threading.Barrier(parties)
        self.lock = threading.Lock()
        self.local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ddb, name)

    def _write(self, call: Any, **kwargs: Any) -> Any:
        if not getattr(self.local, "waited", False):
            self.local.waited = True
            self.barrier.wait(timeout=30)
        with self.lock:
            return call(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        return self._write(self.ddb.put_item, **kwargs)

    def update_item(self, **kwargs: Any) -> Any:
        return self._write(self.ddb.update_item, **kwargs)

    def delete_item(self, **kwargs: Any) -> Any:
        return self._write(self.ddb.delete_item, **kwargs)


def test_concurrent_acquirers_take_exactly_the_slots_there_are(aws: Aws) -> None:
    size, jobs = 3, [f"job-{i}" for i in range(12)]
    racing = Racing(aws.ddb, len(jobs))
    got: dict[str, int | None] = {}
    errors: list[BaseException] = []

    def acquire(job_id: str) -> None:
        try:
            got[job_id] = aws.lease(size, racing).acquire(job_id, aws.arn(job_id))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=acquire, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(got) == len(jobs)
    winners = {j: i for j, i in got.items() if i is not None}
    assert len(winners) == size, got
    assert sorted(winners.values()) == list(range(size))
    assert aws.holders(size) == {i: j for j, i in winners.items()}


def test_acquiring_again_returns_the_jobs_own_slot_and_renews_it(aws: Aws) -> None:
    lease = aws.lease(2)
    first = lease.acquire("a", aws.arn("a"))
    taken_at = lease.held()[first].acquired_at
    aws.clock.advance(GRACE - 1)
    assert lease.acquire("a", aws.arn("a")) == first
    assert aws.holders(2) == {first: "a"}  # one slot, not two
    assert lease.held()[first].acquired_at > taken_at  # its grace period starts again


def test_a_full_pool_refuses_while_every_holder_is_alive(aws: Aws) -> None:
    lease = aws.lease(2)
    for job in ("a", "b"):
        assert lease.acquire(job, aws.run(job)) is not None
    assert lease.acquire("c", aws.arn("c")) is None
    assert set(aws.holders(2).values()) == {"a", "b"}


def test_a_lowered_limit_counts_the_slots_held_above_it(aws: Aws) -> None:
    """Slots taken under a larger limit still hold strategy tasks: they count until freed."""
    wide = aws.lease(4)
    for job in ("a", "b", "c"):
        wide.acquire(job, aws.run(job))
    assert aws.lease(2).acquire("d", aws.arn("d")) is None
    aws.sfn.stop_execution(executionArn=aws.arn("a"))
    aws.sfn.stop_execution(executionArn=aws.arn("b"))
    assert aws.lease(2).acquire("d", aws.arn("d")) is not None  # 2 reclaimed, c and d hold
    assert set(aws.holders(4).values()) == {"c", "d"}


def test_a_holder_whose_execution_stopped_loses_its_slot(aws: Aws) -> None:
    """StopExecution (a cancellation), a timeout or a failure that could not record its end:
    the execution is not RUNNING, so a full pool takes its slot back without help."""
    lease = aws.lease(2)
    slot_a = lease.acquire("a", aws.run("a"))
    lease.acquire("b", aws.run("b"))
    aws.sfn.stop_execution(executionArn=aws.arn("a"))
    assert lease.acquire("c", aws.arn("c")) == slot_a
    assert set(aws.holders(2).values()) == {"b", "c"}


def test_a_slot_never_followed_by_an_execution_is_reclaimed_after_the_grace(aws: Aws) -> None:
    """The consumer took the slot and crashed before StartExecution."""
    lease = aws.lease(1)
    lease.acquire("crashed", aws.arn("crashed"))
    aws.clock.advance(GRACE)
    assert lease.acquire("next", aws.arn("next")) is None  # within the grace: it may start
    aws.clock.advance(1)
    assert lease.acquire("next", aws.arn("next")) == 0
    assert aws.holders() == {0: "next"}


def test_a_renewed_slot_is_not_reclaimed_by_a_stale_read(aws: Aws) -> None:
    """A reclaim decided on an old lease time does not delete a lease renewed since."""
    lease = aws.lease(1)
    lease.acquire("slow", aws.arn("slow"))
    stale = lease.held()[0]
    aws.clock.advance(GRACE + 1)
    assert lease.acquire("slow", aws.arn("slow")) == 0  # redelivered: renewed
    assert lease._delete(stale) is False
    assert aws.holders() == {0: "slow"}


def test_the_workflows_final_status_frees_the_slot(aws: Aws) -> None:
    store = JobStatusStore(aws.ddb, STATE, aws.clock)
    lease = aws.lease(1)
    starter = WorkflowStarter(aws.sfn, store, aws.machine, lease)
    assert starter.start({"job_id": "done", "owner": "u"})["outcome"] == "started"
    with pytest.raises(AtCapacity):
        starter.start({"job_id": "waits", "owner": "u"})
    # update-status, as UpdateStatusCompleted calls it (the handler frees on a final status)
    assert apply(store, {"job_id": "done", "status": "COMPLETED"})["status"] == "COMPLETED"
    assert release_slot(lease, "done") == [0]
    assert starter.start({"job_id": "waits", "owner": "u"})["outcome"] == "started"
    assert aws.holders() == {0: "waits"}


def test_a_refused_start_frees_the_slot_at_once(aws: Aws) -> None:
    store = JobStatusStore(aws.ddb, STATE, aws.clock)
    starter = WorkflowStarter(aws.sfn, store, aws.machine + "-missing", aws.lease(1))
    with pytest.raises(Exception, match="StateMachineDoesNotExist"):
        starter.start({"job_id": "refused", "owner": "u"})
    assert aws.holders() == {}


class NoTasks:
    def stop_job_tasks(self, job_id: str) -> list[str]:
        return []

    def running_tasks(self) -> list[dict[str, Any]]:
        return []


def test_the_orphan_scanner_frees_the_slots_of_dead_executions(aws: Aws) -> None:
    store = JobStatusStore(aws.ddb, STATE, aws.clock)
    lease = aws.lease(3)
    for job in ("orphan", "aborted", "alive"):
        lease.acquire(job, aws.run(job))
        store.register(job, {"owner": "u"}, aws.arn(job))
    aws.sfn.stop_execution(executionArn=aws.arn("orphan"))  # RUNNING in the table: an orphan
    store.failed("aborted", "cancelled elsewhere")
    aws.sfn.stop_execution(executionArn=aws.arn("aborted"))  # not RUNNING: swept
    report = OrphanScanner(store, aws.sfn, NoTasks(), slots=lease).scan()  # type: ignore[arg-type]
    assert report.failed_jobs == ["orphan"]
    assert len(report.freed_slots) == 2
    assert set(aws.holders(3).values()) == {"alive"}
