"""Freqtrade in-process: the config as its CLI would build it, then Backtesting or Hyperopt.

Freqtrade's exceptions are turned into the container's errors here, so callers see messages a
user can act on ("strategy class X failed to load: ...") rather than a stack trace.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradai.strategy_container.config import Workspace
from tradai.strategy_container.errors import (
    BadJob,
    ContainerError,
    DependencyFailed,
    ExchangeUnavailable,
    StrategyFailed,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestOutcome:
    results: dict[str, Any]  # Freqtrade's full results: metadata, strategy, comparison
    strategy: str

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self.results["strategy"][self.strategy])


@dataclass(frozen=True)
class HyperoptOutcome:
    best: dict[str, Any] | None  # the best epoch: loss, params_dict, params_details, ...
    epochs: int
    strategy: str
    results_file: Path

    @property
    def stats(self) -> dict[str, Any]:
        return dict((self.best or {}).get("results_metrics") or {})


def freqtrade_config(config: Mapping[str, Any], ws: Workspace, mode: str) -> dict[str, Any]:
    """What ``freqtrade backtesting|hyperopt --config FILE`` would run with."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode

    ws.config_file.write_text(json.dumps(config, indent=2, sort_keys=True))
    args = {"config": [str(ws.config_file)], "user_data_dir": str(ws.user_data),
            "datadir": str(ws.datadir)}
    runmode = RunMode.HYPEROPT if mode == "hyperopt" else RunMode.BACKTEST
    with translated("configuration"):
        return setup_optimize_configuration(args, runmode)


def startup_candles(ft_config: Mapping[str, Any]) -> int:
    """Loads the strategy class (so a broken one fails before any data moves) and returns how
    many candles it needs before the range."""
    from freqtrade.resolvers import StrategyResolver

    with translated("strategy", str(ft_config.get("strategy"))):
        strategy = StrategyResolver.load_strategy(copy.deepcopy(dict(ft_config)))
    return int(getattr(strategy, "startup_candle_count", 0) or 0)


def run_backtest(ft_config: dict[str, Any],
                 progress: Callable[[Any], None] | None = None) -> BacktestOutcome:
    """``progress`` gets Freqtrade's progress updates (``tradai.strategy_container.progress``).
    Always given one, Freqtrade draws no progress bars: no terminal watches a job, and their
    refresh thread competes with the backtest for the interpreter lock."""
    from freqtrade.optimize.backtesting import Backtesting

    with translated("backtest"):
        backtesting = Backtesting(ft_config, progress_callback=progress or _ignore)
        try:
            backtesting.start()
        finally:
            Backtesting.cleanup()
    name = str(ft_config["strategy"])
    results = backtesting.results or {}
    if name not in results.get("strategy", {}):
        raise StrategyFailed(f"backtest of {name} produced no results")
    return BacktestOutcome(results=results, strategy=name)


def _ignore(_task: Any) -> None:
    pass


def run_hyperopt(ft_config: dict[str, Any]) -> HyperoptOutcome:
    try:
        from freqtrade.optimize.hyperopt import Hyperopt
    except ImportError as exc:  # optuna & co. come with freqtrade's "hyperopt" extra
        raise DependencyFailed(f"hyperopt is not installed in this image ({exc}); install "
                               "freqtrade[hyperopt]") from exc

    with translated("hyperopt"):
        hyperopt = Hyperopt(ft_config)
        hyperopt.start()
    return HyperoptOutcome(best=hyperopt.current_best_epoch, epochs=hyperopt.num_epochs_saved,
                           strategy=str(ft_config["strategy"]),
                           results_file=hyperopt.results_file)


@contextlib.contextmanager
def translated(stage: str, strategy: str | None = None) -> Iterator[None]:
    """Freqtrade's exceptions as the container's, by what they mean for the user."""
    from freqtrade.exceptions import (
        ConfigurationError,
        ExchangeError,
        OperationalException,
        TemporaryError,
    )

    try:
        yield
    except ContainerError:
        raise
    except ConfigurationError as exc:
        raise BadJob(f"Freqtrade refused the configuration: {exc}") from exc
    except (TemporaryError, ExchangeError) as exc:
        raise ExchangeUnavailable(f"exchange unavailable during {stage}: {exc}") from exc
    except OperationalException as exc:
        text = str(exc)
        if stage == "strategy" or "Impossible to load Strategy" in text:
            raise StrategyFailed(f"strategy class {strategy or '?'} failed to load: {text}"
                                 ) from exc
        if "Could not load markets" in text:
            raise ExchangeUnavailable(f"exchange markets unavailable: {text}") from exc
        raise ContainerError(f"Freqtrade {stage} failed: {text}") from exc
    except Exception as exc:
        # Anything else escaped from Freqtrade's loop is the strategy's code failing.
        where = _user_frame(exc)
        raise StrategyFailed(f"strategy raised {type(exc).__name__} during {stage}: {exc}"
                             + (f" (at {where})" if where else "")) from exc


def _user_frame(exc: BaseException) -> str | None:
    """The innermost frame outside Freqtrade and libraries: most likely the strategy's line."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if "site-packages" not in path and "/lib/python" not in path:
            found = f"{Path(path).name}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return found
