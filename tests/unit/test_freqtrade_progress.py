"""Freqtrade's two progress bars as the job's one percent (tradai.strategy_container.progress).

The bars are driven here the way ``freqtrade.optimize.backtesting`` drives them
(``_set_progress_step``: the overall bar's ``completed`` is the phase's value - 1 of 4, the
detail bar restarts per phase); ``tests/integration/test_container_backtest.py`` runs the
real Backtesting with it.
"""

from __future__ import annotations

import pytest
from rich.progress import Progress

from tradai.strategy_container.progress import FreqtradeProgress

PHASES = [("dataload", 2, 1), ("analyze", 3, 2), ("convert", 4, 2), ("backtest", 5, 100)]


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(progress: FreqtradeProgress, ticks: Ticks, step_s: float = 0.0) -> None:
    """Freqtrade's updates for one run, ``step_s`` wall seconds apart."""
    bars = Progress(disable=True)
    overall = bars.add_task("Backtest", total=4)
    detail = bars.add_task("Backtesting", total=0)

    def update(task_id: int, **fields: object) -> None:
        bars.update(task_id, **fields)  # type: ignore[arg-type]
        ticks.now += step_s
        progress(bars.tasks[task_id])

    for name, value, steps in PHASES:
        update(overall, completed=value - 1, description=name)
        update(detail, description=name, total=steps, completed=0)
        for _ in range(steps):
            update(detail, advance=1)


def test_the_percent_runs_from_freqtrade_started_to_published_and_never_back() -> None:
    seen: list[tuple[float, str]] = []
    ticks = Ticks()
    progress = FreqtradeProgress(lambda p, phase: seen.append((p, phase)), start=40, end=90,
                                 every_s=0, monotonic=ticks)
    drive(progress, ticks)
    percents = [p for p, _ in seen]
    assert percents == sorted(percents)
    assert percents[0] == 40 and percents[-1] == 90
    first = {phase: next(p for p, ph in seen if ph == phase) for phase, _, _ in PHASES}
    # Each phase is a quarter of the span; a phase starts where the one before ended.
    assert first == {"dataload": 40, "analyze": 52.5, "convert": 65, "backtest": 77.5}
    backtest = [p for p, phase in seen if phase == "backtest"]
    # After 50 of the backtest phase's 100 steps: 3.5 of 4 phases done.
    assert backtest[2 + 49] == pytest.approx(40 + 50 * 3.5 / 4, abs=0.05)
    assert {phase for p, phase in seen if p == 90} == {"backtest"}


def test_reports_at_most_every_interval() -> None:
    seen: list[float] = []
    ticks = Ticks()
    progress = FreqtradeProgress(lambda p, _: seen.append(p), every_s=5, monotonic=ticks)
    drive(progress, ticks, step_s=0.1)  # 105 detail steps + 8 phase updates: 11.3 s
    assert len(seen) == 2  # at 5 s and 10 s
    assert seen == sorted(seen) and 40 < seen[0] < seen[1] < 90
    assert progress.percent == 90  # known, if not yet reported: the result write says 90


def test_a_short_run_reports_nothing() -> None:
    seen: list[float] = []
    ticks = Ticks()
    progress = FreqtradeProgress(lambda p, _: seen.append(p), every_s=5, monotonic=ticks)
    drive(progress, ticks, step_s=0.001)
    assert seen == []


def test_updates_before_both_bars_exist_are_ignored() -> None:
    seen: list[float] = []
    bars = Progress(disable=True)
    overall = bars.add_task("Backtest", total=4)
    progress = FreqtradeProgress(lambda p, _: seen.append(p), every_s=0)
    bars.update(overall, completed=1, description="dataload")
    progress(bars.tasks[overall])
    assert seen == [] and progress.percent == 40


class Item:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.written: list[float] = []

    def progress(self, percent: float) -> None:
        if self.fail:
            raise RuntimeError("DynamoDB unreachable")
        self.written.append(percent)


def test_the_container_writes_progress_to_the_item_and_a_failed_write_does_not_fail_the_run(
        caplog: pytest.LogCaptureFixture) -> None:
    from tradai.strategy_container.app import StrategyContainer
    from tradai.strategy_container.settings import ContainerSettings

    container = StrategyContainer(ContainerSettings(), clock=None,  # type: ignore[arg-type]
                                  started_at=0.0)
    container.item = Item()  # type: ignore[assignment]
    container._report_progress(62.5, "analyze")
    assert container.item.written == [62.5]  # type: ignore[attr-defined]

    container.item = Item(fail=True)  # type: ignore[assignment]
    with caplog.at_level("WARNING"):
        container._report_progress(70, "convert")  # no exception
    assert "could not write progress to the job item: DynamoDB unreachable" in caplog.text
