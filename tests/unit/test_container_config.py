"""The strategy container without a stack: the job from its item, the runnable config, the
data window, the job item's updates (moto in-process) and error mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.clock import Clock
from tradai.config.service import ConfigMergeService, base_config
from tradai.registry.models import StrategyVersion
from tradai.strategies import CONFIGS_DIR, STRATEGIES_DIR
from tradai.strategy_container import data, runner
from tradai.strategy_container.config import (
    Workspace,
    resolve_timerange,
    run_overrides,
    runnable_config,
)
from tradai.strategy_container.errors import (
    EXIT_BAD_JOB,
    EXIT_RUN_FAILED,
    BadJob,
    DependencyFailed,
    ExchangeUnavailable,
    ModeNotSupported,
    NoMarketData,
    StrategyFailed,
    describe,
)
from tradai.strategy_container.job import (
    DEFAULT_EPOCHS,
    JobItem,
    check_mode,
    dynamo_value,
    job_spec,
)

EXCHANGE = "http://127.0.0.1:9999"
VERSION = StrategyVersion(name="EmaCrossover", version=3, timeframe="5m",
                          pairs=["BTC/USDT", "ETH/USDT"], warmup_days=3,
                          config_s3_path="s3://configs/strategies/EmaCrossover/v3/config.json",
                          strategy_class="EmaCrossover")
VERSION_CONFIG = json.loads((CONFIGS_DIR / "EmaCrossover.json").read_text())
# What the backend writes (tradai.backtests.service._record): ``job`` is the resolved request.
ITEM = {"job_id": "j-1", "status": "RUNNING", "strategy": "EmaCrossover", "version": 3,
        "request": {"strategy": "EmaCrossover", "alias": "champion", "pairs": ["ETH/USDT"]},
        "job": {"strategy": "EmaCrossover", "version": 3, "alias": "champion",
                "pairs": ["ETH/USDT"], "timeframe": "5m", "timerange": "20260101-20260115",
                "strategy_class": "EmaCrossover", "config_s3_path": VERSION.config_s3_path}}


# -- the job --------------------------------------------------------------------------------
def test_job_comes_from_the_resolved_job_map_then_request_then_env() -> None:
    job = job_spec("j-1", "backtest", ITEM, env={"TRADAI_TIMEFRAME": "1h",
                                                 "TRADAI_EPOCHS": "7"})
    assert (job.strategy, job.version, job.alias) == ("EmaCrossover", 3, "champion")
    assert job.pairs == ["ETH/USDT"] and job.timeframe == "5m"  # the item wins over env
    assert job.timerange == "20260101-20260115" and job.epochs == 7  # env fills gaps
    assert job.version_ref == 3  # the pinned number, not the (movable) alias


def test_job_from_env_only_and_defaults() -> None:
    job = job_spec("j-2", "hyperopt", None, env={
        "TRADAI_STRATEGY": "RsiBollingerReversion", "TRADAI_PAIRS": "BTC/USDT, SOL/USDT",
        "TRADAI_SPACES": "roi,stoploss"})
    assert job.pairs == ["BTC/USDT", "SOL/USDT"] and job.spaces == ("roi", "stoploss")
    assert job.version_ref == "latest" and job.epochs == DEFAULT_EPOCHS
    assert job.random_state == 42 and job.hyperopt_loss == "SharpeHyperOptLoss"


@pytest.mark.parametrize(("item", "fragment"), [
    ({"job": {"pairs": ["BTC/USDT"]}}, "names no strategy"),
    ({"job": {"strategy": "S", "epochs": "many"}}, "epochs must be a whole number"),
    ({"job": {"strategy": "S", "epochs": 5000}}, "epochs must be between"),
    ({"job": {"strategy": "S", "version": 0}}, "version must be between"),
    ({"job": {"strategy": "S", "config_overrides": [1]}}, "must be a JSON object"),
])
def test_bad_jobs_are_refused_with_the_field(item: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BadJob, match=fragment):
        job_spec("j", "backtest", item, env={})


def test_modes() -> None:
    assert check_mode("backtest") == "backtest" and check_mode("hyperopt") == "hyperopt"
    for trading in ("dry-run", "live"):
        with pytest.raises(ModeNotSupported, match="is a trading session, not a job"):
            check_mode(trading)
    with pytest.raises(BadJob, match="unknown mode"):
        check_mode("paper")
    with pytest.raises(BadJob, match="TRADAI_MODE is not set"):
        check_mode(None)


# -- the runnable config --------------------------------------------------------------------
def _config(tmp_path: Path, mode: str = "backtest", **job: Any) -> dict[str, Any]:
    spec = job_spec("j-1", mode, {"job": {**ITEM["job"], **job}}, env={})
    merger = ConfigMergeService(None, base_config(EXCHANGE))  # type: ignore[arg-type]
    return runnable_config(merger, spec, VERSION, VERSION_CONFIG, "20260101-20260115",
                           Workspace(tmp_path), STRATEGIES_DIR, EXCHANGE)


def test_backtest_config_layers_base_version_and_job(tmp_path: Path) -> None:
    c = _config(tmp_path)
    assert c["strategy"] == "EmaCrossover" and c["max_open_trades"] == 2  # version config
    assert c["dry_run_wallet"] == 1000 and c["dry_run"] is True  # platform base
    assert c["exchange"]["pair_whitelist"] == ["ETH/USDT"]  # the job's pairs
    assert c["timeframe"] == "5m" and c["timerange"] == "20260101-20260115"
    assert c["export"] == "none" and c["dataformat_ohlcv"] == "feather"
    assert c["disableparamexport"] is True  # hyperopt must not write beside the source
    assert c["user_data_dir"] == str(tmp_path / "user_data")
    assert c["strategy_path"] == str(STRATEGIES_DIR)
    ccxt = c["exchange"]["ccxt_config"]
    assert ccxt["urls"]["api"]["public"] == f"{EXCHANGE}/api/v3"
    assert ccxt["options"]["fetchMarkets"]["types"] == ["spot"]
    assert c["exchange"]["enable_ws"] is False
    assert "epochs" not in c


def test_hyperopt_config_is_bounded_and_seeded(tmp_path: Path) -> None:
    c = _config(tmp_path, "hyperopt", epochs=4, random_state=7, spaces=["roi"])
    assert (c["epochs"], c["hyperopt_random_state"], c["spaces"]) == (4, 7, ["roi"])
    assert c["hyperopt_jobs"] == 1 and c["hyperopt_loss"] == "SharpeHyperOptLoss"


def test_job_overrides_apply_but_cannot_move_code_data_or_results(tmp_path: Path) -> None:
    assert _config(tmp_path, config_overrides={"stake_amount": 25})["stake_amount"] == 25
    with pytest.raises(BadJob, match="strategy_path"):
        _config(tmp_path, config_overrides={"strategy_path": "/tmp/evil"})


def test_an_invalid_merged_config_is_a_bad_job(tmp_path: Path) -> None:
    with pytest.raises(BadJob, match="pair_whitelist"):
        _config(tmp_path, pairs=["BTC/EUR"])  # not quoted in the stake currency


def test_the_config_is_what_freqtrade_runs_with(tmp_path: Path) -> None:
    ws = Workspace(tmp_path).create()
    ft = runner.freqtrade_config(_config(tmp_path), ws, "backtest")
    assert ft["datadir"] == ws.datadir and ft["timerange"] == "20260101-20260115"
    assert ft["runmode"].value == "backtest"
    assert runner.startup_candles(ft) == 60  # EmaCrossover.startup_candle_count


def test_default_timerange_is_the_last_30_whole_days() -> None:
    now = datetime(2026, 3, 15, 13, 0, tzinfo=UTC)
    assert resolve_timerange(None, now) == "20260213-20260315"
    assert resolve_timerange("20250101-20250201", now) == "20250101-20250201"


def test_run_overrides_refuse_before_merging(tmp_path: Path) -> None:
    spec = job_spec("j", "backtest", {"job": {"strategy": "S",
                                              "config_overrides": {"export": "trades"}}}, env={})
    with pytest.raises(BadJob, match="export"):
        run_overrides(spec, VERSION, "20260101-20260102", Workspace(tmp_path), STRATEGIES_DIR,
                      None)


# -- the data window ------------------------------------------------------------------------
def test_window_adds_the_startup_candles_before_the_range() -> None:
    w = data.window("20260101-20260115", "5m", 60)
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert w.start_ms == start - 60 * 300_000
    assert w.end_ms == int(datetime(2026, 1, 15, tzinfo=UTC).timestamp() * 1000)
    for bad in ("2026-01-01", "20260115-20260101"):
        with pytest.raises(BadJob):
            data.window(bad, "5m", 0)
    with pytest.raises(BadJob, match="timeframe"):
        data.window("20260101-20260115", "7m", 0)


# -- the job item ---------------------------------------------------------------------------
@pytest.fixture()
def table() -> Any:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(TableName="wf", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "job_id",
                                                "AttributeType": "S"}])
        yield ddb


def test_item_progress_result_and_error_leave_status_alone(table: Any) -> None:
    table.put_item(TableName="wf", Item={"job_id": {"S": "j-1"}, "status": {"S": "RUNNING"}})
    item = JobItem(table, "wf", "j-1", Clock())
    assert item.read()["status"] == "RUNNING"
    item.progress(20)
    item.succeeded({"total_trades": 3, "profit_total": 0.01, "sharpe": float("nan"),
                    "best_params": {"roi_t1": "5"}}, "http://mlflow/#/experiments/1/runs/r")
    got = item.read()
    assert got["status"] == "RUNNING" and got["progress"] == 90
    assert got["result"] == {"total_trades": 3, "profit_total": 0.01, "sharpe": None,
                             "best_params": {"roi_t1": "5"}}
    assert got["mlflow_url"].endswith("/runs/r") and got["updated_at"]
    item.failed("no market data for ETH/USDT 5m in 20260101-20260115")
    assert item.read()["error"].startswith("no market data")


def test_item_of_an_unknown_job_is_none_and_updates_fail_clearly(table: Any) -> None:
    item = JobItem(table, "wf", "nope", Clock())
    assert item.read() is None
    with pytest.raises(DependencyFailed, match="could not update job nope"):
        item.progress(10)


def test_dynamo_values() -> None:
    assert dynamo_value(0.1) == Decimal("0.1")
    assert dynamo_value({"a": [1.5, float("inf")]}) == {"a": [Decimal("1.5"), None]}


# -- errors ---------------------------------------------------------------------------------
def test_errors_map_to_messages_and_exit_codes() -> None:
    assert describe(BadJob("job x does not exist")) == ("job x does not exist", EXIT_BAD_JOB)
    assert describe(NoMarketData("no market data"))[1] == EXIT_RUN_FAILED
    message, code = describe(RuntimeError("boom\n  at line 3"))
    assert message == "unexpected RuntimeError: boom at line 3" and code == EXIT_RUN_FAILED
    assert len(describe(StrategyFailed("x" * 5000))[0]) == 1000


def test_freqtrade_exceptions_are_translated() -> None:
    from freqtrade.exceptions import ConfigurationError, OperationalException, TemporaryError

    cases = [(ConfigurationError("stake too big"), BadJob, "refused the configuration"),
             (TemporaryError("timeout"), ExchangeUnavailable, "exchange unavailable"),
             (OperationalException("Could not load markets"), ExchangeUnavailable, "markets"),
             (OperationalException("No data found. Terminating."), Exception, "No data found"),
             (ZeroDivisionError("division by zero"), StrategyFailed, "ZeroDivisionError")]
    for raised, expected, fragment in cases:
        with pytest.raises(expected, match=fragment), runner.translated("backtest"):
            raise raised
    with pytest.raises(StrategyFailed, match="strategy class Nope failed to load"), \
            runner.translated("strategy", "Nope"):
        raise OperationalException("Impossible to load Strategy 'Nope'.")


def test_data_is_checked_then_written_as_freqtrade_reads_it(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    from tradai.data.keys import SeriesKey
    from tradai.data.store import OhlcvStore

    store = OhlcvStore(f"lmdb://{tmp_path / 'lmdb'}")
    index = pd.date_range("2026-01-01", periods=288, freq="5min", tz="UTC", name="date")
    prices = np.linspace(100, 110, len(index))
    store.write(SeriesKey("binance", "BTC/USDT", "5m"), pd.DataFrame(
        {"open": prices, "high": prices + 1, "low": prices - 1, "close": prices,
         "volume": np.ones(len(index))}, index=index))
    win = data.window("20260101-20260102", "5m", 0)
    data.check_available(store, ["BTC/USDT"], "5m", win)
    with pytest.raises(NoMarketData, match="no market data for ETH/USDT 5m in 20260101-20260102"):
        data.check_available(store, ["ETH/USDT"], "5m", win)
    with pytest.raises(NoMarketData):
        data.check_available(store, ["BTC/USDT"], "5m", data.window("20250101-20250102", "5m", 0))
    assert data.export_feather(store, ["BTC/USDT"], "5m", win, tmp_path / "dd") == {
        "BTC/USDT": 288}
    back = get_datahandler(tmp_path / "dd", "feather").ohlcv_load(
        "BTC/USDT", "5m", candle_type=CandleType.SPOT)
    assert len(back) == 288 and str(back["date"].dt.tz) == "UTC"
    assert np.allclose(back["close"].to_numpy(), prices)
