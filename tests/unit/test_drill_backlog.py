"""The backlog drill's own arithmetic: the exact task peak and the verdict on what users saw."""

from __future__ import annotations

from tradai.clock import Clock
from tradai_sim.drills.backlog import Answer, answers, submissions_verdict, task_peak
from tradai_sim.drills.context import DrillContext


def _task(start: float, stopping: float | None, group: str = "backtest:j") -> dict:
    return {"group": group, "started_at": start, "stopping_at": stopping, "stopped_at": None}


def test_peak_counts_overlapping_running_intervals_exactly() -> None:
    tasks = [_task(0, 10), _task(5, 15), _task(9, 12), _task(12, 20)]
    # at 9..10 three run; 12 starts just as one of them stops (stops sweep first)
    assert task_peak(tasks, now=30) == (3, 9)


def test_back_to_back_tasks_do_not_overlap() -> None:
    assert task_peak([_task(0, 10), _task(10, 20), _task(20, 30)], now=40)[0] == 1


def test_a_task_still_running_counts_until_now_and_services_are_ignored() -> None:
    tasks = [_task(0, None), _task(1, None), _task(2, 3),
             _task(0, None, group="service:tradai-local-backend-api"),
             {"group": "backtest:x", "started_at": None}]  # never started
    assert task_peak(tasks, now=100) == (3, 2)


def _ctx() -> DrillContext:
    return DrillContext("local", "eu-central-1", "local", "r", Clock())


def test_every_submission_accepted_or_refused_with_a_reason_holds() -> None:
    ctx = _ctx()
    answers(ctx).extend([
        Answer(0, "u00", 1, 5, 202, job_id="a"),
        Answer(1, "u01", 1, 5, 429, "more than 100 requests in 300 s", "2"),
        Answer(1, "u01", 3, 5, 202, job_id="b"),
        Answer(2, "u02", 2, 5, 422, "unknown strategy")])
    verdict = submissions_verdict(ctx)
    assert verdict.ok, verdict.detail
    assert verdict.value == 2
    assert "1 refused 422" in verdict.detail


def test_a_5xx_a_lost_call_or_a_reasonless_refusal_breaks_it() -> None:
    for bad in (Answer(0, "u00", 1, 5, 503, "MLflow down"),
                Answer(0, "u00", 1, 5, None, "ReadTimeout"),
                Answer(0, "u00", 1, 5, 400, ""),
                Answer(0, "u00", 1, 5, 429, "slow down", None)):
        ctx = _ctx()
        answers(ctx).append(bad)
        assert not submissions_verdict(ctx).ok, bad


def test_a_submission_left_at_429_after_its_retries_breaks_it() -> None:
    ctx = _ctx()
    answers(ctx).extend([Answer(0, "u00", 1, 5, 429, "slow down", "1"),
                         Answer(0, "u00", 2, 5, 429, "slow down", "1")])
    assert not submissions_verdict(ctx).ok
