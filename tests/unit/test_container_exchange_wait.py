"""The strategy container waits for the exchange: Freqtrade loads the exchange's markets
before a backtest, so a run that starts while its subnet's NAT instance is being replaced
(egress refused for a couple of minutes) tries again instead of failing the job."""

from __future__ import annotations

from typing import Any

import pytest

from tradai.strategy_container.app import EXCHANGE_WAIT_SECONDS, StrategyContainer
from tradai.strategy_container.errors import BadJob, ExchangeUnavailable
from tradai.strategy_container.settings import ContainerSettings


class SimClock:
    """Simulated time that moves only when the container sleeps."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def container(clock: SimClock) -> StrategyContainer:
    return StrategyContainer(ContainerSettings(), clock)  # type: ignore[arg-type]


def test_the_run_is_tried_again_with_backoff_until_the_exchange_answers() -> None:
    clock = SimClock()
    configs: list[dict[str, Any]] = []

    def run(cfg: dict[str, Any]) -> str:
        configs.append(dict(cfg))
        cfg["edited_by_freqtrade"] = True
        if len(configs) < 4:
            raise ExchangeUnavailable("exchange markets unavailable: Could not load markets")
        return "results"

    assert container(clock)._exchange_retried(run, {"strategy": "S"}) == "results"
    assert clock.slept == [5.0, 10.0, 20.0]
    assert configs == [{"strategy": "S"}] * 4  # each attempt gets the config as it was


def test_the_run_fails_with_the_exchange_error_once_the_wait_is_over() -> None:
    clock = SimClock()
    started = clock.now()

    def run(cfg: dict[str, Any]) -> str:
        raise ExchangeUnavailable("exchange markets unavailable: Could not load markets")

    with pytest.raises(ExchangeUnavailable, match="Could not load markets"):
        container(clock)._exchange_retried(run, {})
    assert clock.now() - started <= EXCHANGE_WAIT_SECONDS
    assert max(clock.slept) == 60.0


def test_other_errors_are_not_retried() -> None:
    clock = SimClock()

    def run(cfg: dict[str, Any]) -> str:
        raise BadJob("Freqtrade refused the configuration")

    with pytest.raises(BadJob):
        container(clock)._exchange_retried(run, {})
    assert clock.slept == []
