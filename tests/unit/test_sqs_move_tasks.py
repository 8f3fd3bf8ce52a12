"""Message move tasks (DLQ redrive) as a state machine on a fake simulated clock: the rate,
the end states, cancel, failures, where each message goes, and the API's parameter rules.

References: StartMessageMoveTask, ListMessageMoveTasks and CancelMessageMoveTask in the SQS
API reference (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
API_StartMessageMoveTask.html, .../API_ListMessageMoveTasks.html,
.../API_CancelMessageMoveTask.html) and "Learn how to configure a dead-letter queue redrive"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
sqs-configure-dead-letter-queue-redrive.html).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from tradai_sim.cloud.sqs_redrive.api import MoveTaskService
from tradai_sim.cloud.sqs_redrive.errors import MoveTaskError
from tradai_sim.cloud.sqs_redrive.model import (
    CANCELLED,
    COMPLETED,
    FAILED,
    RUNNING,
    MoveTask,
    NotCancellable,
    decode_handle,
    encode_handle,
)
from tradai_sim.cloud.sqs_redrive.queues import DeadLetter, QueueGone
from tradai_sim.cloud.sqs_redrive.runner import NO_SOURCE, TaskRunner
from tradai_sim.cloud.sqs_redrive.tasks import MoveTasks

ARN = "arn:aws:sqs:eu-central-1:123456789012:"
DLQ, SOURCE, OTHER, DEST = ARN + "dlq", ARN + "source", ARN + "other", ARN + "dest"
T0 = 1_000.0


class FakeClock:
    """Simulated time that advances only when someone waits."""

    def __init__(self) -> None:
        self.t = T0

    def now(self) -> float:
        return self.t

    def wait(self, event: threading.Event, sim_seconds: float) -> bool:
        if event.is_set():
            return True
        self.t += max(sim_seconds, 0.0)
        return False


@dataclass
class FakeQueues:
    clock: FakeClock
    queues: dict[str, list[DeadLetter]]
    fifo: set[str] = field(default_factory=set)
    sources: dict[str, list[str]] = field(default_factory=dict)
    puts: list[tuple[float, str, DeadLetter]] = field(default_factory=list)
    in_flight: dict[str, DeadLetter] = field(default_factory=dict)
    on_put: Callable[[int], None] = lambda n: None
    _ids: itertools.count = field(default_factory=itertools.count)

    def exists(self, arn: str) -> bool:
        return arn in self.queues

    def is_fifo(self, arn: str) -> bool:
        return arn in self.fifo

    def dead_letter_sources(self, arn: str) -> list[str]:
        return self.sources.get(arn, [])

    def visible(self, arn: str) -> int:
        return len(self.queues.get(arn, []))

    def take(self, arn: str, count: int) -> list[DeadLetter]:
        taken, self.queues[arn] = self.queues[arn][:count], self.queues[arn][count:]
        for m in taken:
            self.in_flight[m.receipt] = m
        return taken

    def put(self, arn: str, message: DeadLetter) -> None:
        if arn not in self.queues:
            raise QueueGone(arn)
        n = next(self._ids)
        self.queues[arn].append(replace(message, message_id=f"new-{n}", receipt=f"r-new-{n}"))
        self.puts.append((self.clock.now(), arn, message))
        self.on_put(len(self.puts))

    def remove(self, arn: str, receipt: str) -> None:
        del self.in_flight[receipt]

    def release(self, arn: str, receipt: str) -> None:
        self.queues[arn].insert(0, self.in_flight.pop(receipt))


def letters(n: int, origin: str | None = SOURCE) -> list[DeadLetter]:
    return [DeadLetter(f"m{i}", f"body-{i}", f"r{i}", origin_arn=origin) for i in range(n)]


def world(n: int = 4, **kw: object) -> FakeQueues:
    clock = FakeClock()
    queues = {DLQ: letters(n), SOURCE: [], OTHER: [], DEST: []}
    return FakeQueues(clock, queues, sources={DLQ: [SOURCE]}, **kw)  # type: ignore[arg-type]


def run(q: FakeQueues, rate: int | None = None, destination: str | None = None) -> MoveTask:
    task = MoveTask("t1", DLQ, destination, rate, q.clock.now(), q.visible(DLQ))
    TaskRunner(task, MoveTasks(), q, q.clock, threading.Event()).run()
    return task


# -- the runner ------------------------------------------------------------------------------
def test_messages_move_no_faster_than_the_rate_on_the_simulated_clock() -> None:
    q = world(5)
    task = run(q, rate=2)
    assert [t for t, _, _ in q.puts] == [T0, T0 + 0.5, T0 + 1.0, T0 + 1.5, T0 + 2.0]
    assert task.status == COMPLETED and task.moved == task.to_move == 5


def test_without_a_rate_the_task_moves_at_the_maximum_of_500_per_second() -> None:
    q = world(3)
    run(q)
    assert [t for t, _, _ in q.puts] == [T0, T0 + 1 / 500, T0 + 2 / 500]


def test_oldest_message_moves_first_and_each_returns_to_its_source_queue() -> None:
    q = world(0)
    q.queues[DLQ] = [DeadLetter("a", "A", "ra", origin_arn=SOURCE),
                     DeadLetter("b", "B", "rb", origin_arn=OTHER)]
    q.sources[DLQ] = [SOURCE, OTHER]
    task = run(q, rate=10)
    assert [(arn, m.body) for _, arn, m in q.puts] == [(SOURCE, "A"), (OTHER, "B")]
    assert task.status == COMPLETED and q.queues[DLQ] == [] and q.in_flight == {}


def test_a_given_destination_receives_every_message() -> None:
    q = world(3)
    run(q, destination=DEST)
    assert {arn for _, arn, _ in q.puts} == {DEST}
    assert [m.body for m in q.queues[DEST]] == ["body-0", "body-1", "body-2"]


def test_a_message_without_a_recorded_source_goes_to_the_only_source_queue() -> None:
    q = world(0)
    q.queues[DLQ] = letters(2, origin=None)
    assert run(q).status == COMPLETED
    assert {arn for _, arn, _ in q.puts} == {SOURCE}


def test_a_message_without_a_source_fails_the_task_when_the_dlq_has_several_sources() -> None:
    q = world(0)
    q.queues[DLQ] = letters(2, origin=None)
    q.sources[DLQ] = [SOURCE, OTHER]
    task = run(q)
    assert task.status == FAILED and task.failure == NO_SOURCE
    assert [m.message_id for m in q.queues[DLQ]] == ["m0", "m1"]  # nothing lost


def test_cancel_stops_the_task_and_keeps_what_moved() -> None:
    tasks = MoveTasks()
    q = world(6)
    task = MoveTask("t1", DLQ, None, 1, T0, 6)
    q.on_put = lambda n: task.request_cancel() if n == 2 else None
    TaskRunner(task, tasks, q, q.clock, threading.Event()).run()
    assert task.status == CANCELLED and task.moved == 2
    assert [m.message_id for m in q.queues[DLQ]] == ["m2", "m3", "m4", "m5"]


def test_a_destination_that_disappears_fails_the_task_with_nonexistent_queue() -> None:
    q = world(4)
    q.on_put = lambda n: q.queues.pop(SOURCE) if n == 1 else None
    task = run(q, rate=1)
    assert task.status == FAILED and task.moved == 1
    assert task.failure == "AWS.SimpleQueueService.NonExistentQueue"
    assert [m.message_id for m in q.queues[DLQ]] == ["m1", "m2", "m3"]


def test_the_task_completes_early_when_the_dlq_holds_fewer_than_counted() -> None:
    q = world(3)
    task = MoveTask("t1", DLQ, None, None, T0, 5)
    TaskRunner(task, MoveTasks(), q, q.clock, threading.Event()).run()
    assert task.status == COMPLETED and task.moved == 3


# -- the task's states and its listing ------------------------------------------------------
def test_only_a_running_task_can_be_cancelled() -> None:
    task = MoveTask("t1", DLQ, None, None, T0, 1)
    task.request_cancel()
    with pytest.raises(NotCancellable):
        task.request_cancel()
    task.finish()
    assert task.status == CANCELLED
    done = MoveTask("t2", DLQ, None, None, T0, 1)
    done.finish()
    with pytest.raises(NotCancellable):
        done.request_cancel()


def test_a_listed_task_shows_its_handle_only_while_running() -> None:
    task = MoveTask("t1", DLQ, None, None, T0, 2)
    running = task.as_entry()
    assert running["TaskHandle"] == task.handle and running["Status"] == RUNNING
    assert "DestinationArn" not in running and "MaxNumberOfMessagesPerSecond" not in running
    assert running["StartedTimestamp"] == int(T0 * 1000)
    task.finish()
    assert "TaskHandle" not in task.as_entry()
    failed = MoveTask("t2", DLQ, DEST, 7, T0, 2)
    failed.fail("AWS.SimpleQueueService.NonExistentQueue")
    entry = failed.as_entry()
    assert entry["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert entry["DestinationArn"] == DEST and entry["MaxNumberOfMessagesPerSecond"] == 7


def test_a_task_handle_names_the_task_and_its_source() -> None:
    assert decode_handle(encode_handle("t1", DLQ)) == ("t1", DLQ)
    assert decode_handle("foobared") is None


# -- the operations' rules ------------------------------------------------------------------
@dataclass
class Api:
    service: MoveTaskService
    queues: FakeQueues
    launched: list[MoveTask]
    woken: list[str]


@pytest.fixture
def api() -> Api:
    q = world(3)
    q.fifo = {ARN + "dlq.fifo", ARN + "dest.fifo"}
    q.queues.update({ARN + "dlq.fifo": [], ARN + "dest.fifo": []})
    launched: list[MoveTask] = []
    woken: list[str] = []
    ids = (f"id-{n}" for n in itertools.count())
    service = MoveTaskService(q, q.clock, MoveTasks(), launched.append, woken.append,
                              new_id=lambda: next(ids))
    return Api(service, q, launched, woken)


def code_of(fn: Callable[[], object]) -> tuple[str, int]:
    with pytest.raises(MoveTaskError) as exc:
        fn()
    return exc.value.code, exc.value.status


def test_start_counts_the_visible_messages_and_launches_the_task(api: Api) -> None:
    handle = api.service.start(DLQ, None, 5)["TaskHandle"]
    [task] = api.launched
    assert decode_handle(handle) == (task.task_id, DLQ)
    assert (task.to_move, task.rate, task.started, task.status) == (3, 5, T0, RUNNING)


def test_the_source_must_exist_and_be_a_dead_letter_queue(api: Api) -> None:
    assert code_of(lambda: api.service.start(ARN + "nope")) == ("ResourceNotFoundException",
                                                                 404)
    assert code_of(lambda: api.service.start(SOURCE)) == ("InvalidParameterValue", 400)


def test_the_destination_must_exist_and_be_of_the_source_type(api: Api) -> None:
    assert code_of(lambda: api.service.start(DLQ, ARN + "nope")) == (
        "ResourceNotFoundException", 404)
    assert code_of(lambda: api.service.start(DLQ, ARN + "dest.fifo")) == (
        "InvalidParameterValue", 400)
    api.service.start(DLQ, DEST)
    assert api.launched[0].destination_arn == DEST


@pytest.mark.parametrize("rate", [0, 501, -3, "fast"])
def test_the_rate_is_between_1_and_500_messages_per_second(api: Api, rate: object) -> None:
    assert code_of(lambda: api.service.start(DLQ, None, rate)) == ("InvalidParameterValue",
                                                                   400)
    assert api.launched == []


def test_one_active_task_per_source_queue(api: Api) -> None:
    api.service.start(DLQ)
    assert code_of(lambda: api.service.start(DLQ)) == ("InvalidParameterValue", 400)
    api.launched[0].finish()
    api.service.start(DLQ)
    assert len(api.launched) == 2


def test_list_shows_the_newest_tasks_first_one_by_default(api: Api) -> None:
    for _ in range(3):
        api.service.start(DLQ)
        api.launched[-1].finish()
    assert [r["Status"] for r in api.service.list(DLQ)["Results"]] == [COMPLETED]
    listed = api.service.list(DLQ, 10)["Results"]
    assert len(listed) == 3
    assert code_of(lambda: api.service.list(DLQ, 11)) == ("InvalidParameterValue", 400)


def test_cancel_marks_a_running_task_cancelling_and_wakes_its_mover(api: Api) -> None:
    handle = api.service.start(DLQ)["TaskHandle"]
    assert api.service.cancel(handle) == {"ApproximateNumberOfMessagesMoved": 0}
    assert api.launched[0].status == "CANCELLING" and api.woken == [api.launched[0].task_id]
    assert code_of(lambda: api.service.cancel(handle)) == ("UnsupportedOperation", 400)


def test_cancel_refuses_handles_it_did_not_issue(api: Api) -> None:
    assert code_of(lambda: api.service.cancel("foobared")) == ("InvalidParameterValue", 400)
    assert code_of(lambda: api.service.cancel(encode_handle("x", ARN + "gone"))) == (
        "ResourceNotFoundException", 404)
    assert code_of(lambda: api.service.cancel(encode_handle("x", DLQ))) == (
        "ResourceNotFoundException", 404)
