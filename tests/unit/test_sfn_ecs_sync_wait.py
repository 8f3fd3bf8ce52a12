"""``ecs:runTask.sync`` learns of its task's end when the task stops, not at the next
DescribeTasks poll (sim/tradai_sim/cloud/stepfunctions/ecs_sync.py,
sim/tradai_sim/cloud/ecs/stops.py).

AWS: the Run a Job (.sync) pattern waits for the job to complete
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html), and its role
lets Step Functions manage the EventBridge rule ``StepFunctionsGetEventsForECSTaskRule`` through
which ECS's task events reach it (https://docs.aws.amazon.com/step-functions/latest/dg/
ecs-iam.html)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tradai_sim.cloud.ecs import stops
from tradai_sim.cloud.stepfunctions import ecs_sync


class Env:
    def __init__(self) -> None:
        self.running = True

    def is_running(self) -> bool:
        return self.running


class Task:
    """DescribeTasks of one task: its description once it has stopped, else None."""

    def __init__(self) -> None:
        self.stopped = False
        self.asked = 0
        self._asked = threading.Condition()

    def resolve(self) -> dict[str, Any] | None:
        with self._asked:
            self.asked += 1
            self._asked.notify_all()
        return {"LastStatus": "STOPPED"} if self.stopped else None

    def wait_asked(self, times: int) -> None:
        """Until the state has asked ``times`` times (it then waits or polls again)."""
        with self._asked:
            assert self._asked.wait_for(lambda: self.asked >= times, 10), self.asked


def run_in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_the_wait_ends_when_the_task_stops_not_at_the_next_poll(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ecs_sync, "SYNC_RECHECK", 600.0)  # a poll would not come in this test
    task, env = Task(), Env()
    thread, out = run_in_thread(lambda: ecs_sync.wait_for_stop(env, task.resolve))
    task.wait_asked(1)  # the state has looked once and waits
    task.stopped = True
    stops.announce()
    thread.join(10)
    assert not thread.is_alive(), "the stop did not wake the .sync state"
    assert out == [{"LastStatus": "STOPPED"}] and task.asked == 2


def test_another_tasks_stop_is_looked_at_and_waited_past(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ecs_sync, "SYNC_RECHECK", 600.0)
    task, env = Task(), Env()
    thread, out = run_in_thread(lambda: ecs_sync.wait_for_stop(env, task.resolve))
    task.wait_asked(1)
    stops.announce()  # some other task
    task.wait_asked(2)
    assert thread.is_alive() and out == []
    task.stopped = True
    stops.announce()
    thread.join(10)
    assert out == [{"LastStatus": "STOPPED"}] and task.asked == 3


def test_without_stops_it_polls_and_ends_with_the_execution(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ecs_sync, "SYNC_RECHECK", 0.01)
    task, env = Task(), Env()
    thread, out = run_in_thread(lambda: ecs_sync.wait_for_stop(env, task.resolve))
    task.wait_asked(3)  # polled again without any stop announced
    env.running = False  # StopExecution, a timeout
    thread.join(10)
    assert out == [None]


def test_an_ecs_sync_state_with_a_task_token_endpoint_is_woken_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # moto gives every ECS task state a task-token endpoint (ECS supports the callback
    # pattern), .sync included: the patched _eval_sync must take the woken loop then as well.
    monkeypatch.setattr(ecs_sync, "SYNC_RECHECK", 600.0)
    released = threading.Event()

    class State:
        class resource:
            resource_arn = "arn:aws:states:::ecs:runTask.sync"

        def _eval_wait_for_task_token(self, **_: Any) -> None:
            released.wait(30)  # no token outcome in this test

    def original(*_: Any) -> Any:
        raise AssertionError("moto's polling loop was used")

    task, env = Task(), Env()
    evaluate = ecs_sync.eval_sync(original)
    try:
        thread, out = run_in_thread(lambda: evaluate(State(), env, task.resolve, None,
                                                     object(), None))
        task.wait_asked(1)
        task.stopped = True
        stops.announce()
        thread.join(10)
        assert out == [{"LastStatus": "STOPPED"}]
    finally:
        released.set()
