"""The strategy container in the stack, run as the workflow runs it: an ECS RunTask of the
``strategy`` task definition with only TRADAI_MODE and TRADAI_JOB_ID overridden (plus, here, an
ArcticDB library of the test's own so nothing else writes the same symbols).

Market data is written straight from the simulator's market model (seed 42, the stack
exchange's seed) into ArcticDB on the stack's S3; the job item is written as the backend
writes a ticket and marked RUNNING as the workflow would. The container's metrics must EQUAL
those of Freqtrade run directly, in this process, on the same data and config.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.integration.cloud import RunningCloud, wait_for
from tradai.backtests.results import headline, metrics
from tradai.backtests.store import from_item, to_item
from tradai.config.exchange import exchange_layer
from tradai.config.merge import deep_merge
from tradai.data.keys import SeriesKey
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.strategies import CONFIGS_DIR, STRATEGIES_DIR
from tradai_sim.exchange.market import Market

pytestmark = pytest.mark.integration

SEED = 42  # the stack exchange's market (tradai_sim.cloud.internet.part.DEFAULT_SEED)
PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = "20260105-20260119"  # 14 days of 5m
M5 = 300_000
WARMUP_CANDLES = 200  # more than any strategy here needs before the range
START_MS = int(pd.Timestamp("2026-01-05", tz="UTC").timestamp() * 1000)
END_MS = int(pd.Timestamp("2026-01-19", tz="UTC").timestamp() * 1000)
BASE_CONFIG = Path(__file__).parents[2] / "platform" / "tradai" / "config" / "base.json"

CRASHING_SOURCE = '''
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class CrashingStrategy(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {"0": 0.02}
    stoploss = -0.05
    startup_candle_count = 10

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        raise ValueError("indicator blew up on purpose")

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe
'''


class Stack:
    """What the tests need of the running cloud."""

    def __init__(self, cloud: RunningCloud) -> None:
        self.cloud = cloud
        status = cloud.status()
        res = status["resources"]
        self.mlflow_url: str = status["parts"]["seed"]["mlflow_url"]
        self.exchange_url: str = res["endpoints"]["exchange"]
        self.egress_proxy: str = res["endpoints"]["egress"]  # "the internet" from outside
        self.cluster: str = res["cluster"]
        self.network = {"awsvpcConfiguration": {
            "subnets": list(res["subnets"]["private"].values()),
            "securityGroups": [res["security_groups"]["strategy-tasks"]],
            "assignPublicIp": "DISABLED"}}
        self.table = cloud.name("workflow-state")
        self.results_bucket = cloud.name("results")
        self.library = f"it_container_{uuid.uuid4().hex[:8]}"
        self.store = OhlcvStore.from_settings(DataSettings(
            AWS_ENDPOINT_URL=cloud.endpoint, AWS_DEFAULT_REGION=cloud.region,
            AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
            TRADAI_BUCKET_ARCTICDB=cloud.name("arcticdb"),
            TRADAI_ARCTICDB_LIBRARY=self.library))  # type: ignore[call-arg]
        self.mlflow = MlflowClient(self.mlflow_url)

    # -- setup --------------------------------------------------------------------------------
    def write_market(self) -> None:
        market = Market(SEED, PAIRS)
        first = START_MS - WARMUP_CANDLES * M5
        count = (END_MS - first) // M5
        for pair in PAIRS:
            c = market.candles(pair, "5m", first, count, END_MS + M5)
            index = pd.DatetimeIndex(pd.to_datetime(c.open_time, unit="ms", utc=True),
                                     name="date")
            frame = pd.DataFrame({"open": c.open, "high": c.high, "low": c.low,
                                  "close": c.close, "volume": c.volume}, index=index)
            self.store.write(SeriesKey("binance", pair, "5m"), frame)

    def put_job(self, job: dict[str, Any]) -> str:
        """A ticket as the backend writes it, already RUNNING as the workflow leaves it."""
        job_id = str(uuid.uuid4())
        record = {"job_id": job_id, "owner": "it-user", "status": "RUNNING", "progress": 10,
                  "kind": "backtest", "strategy": job["strategy"], "version": job.get("version"),
                  "created_at": "2026-11-26T00:00:00+00:00", "request": dict(job),
                  "job": dict(job)}
        self.cloud.client("dynamodb").put_item(TableName=self.table, Item=to_item(record))
        return job_id

    def item(self, job_id: str) -> dict[str, Any]:
        got = self.cloud.client("dynamodb").get_item(
            TableName=self.table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)["Item"]
        return from_item(got)

    # -- the task -----------------------------------------------------------------------------
    def run_container(self, job_id: str, mode: str = "backtest",
                      timeout: float = 300) -> dict[str, Any]:  # hyperopt at load 15: >120 s
        """RunTask as the workflow's RunBacktest state does; the stopped task."""
        ecs = self.cloud.client("ecs")
        env = {"TRADAI_MODE": mode, "TRADAI_JOB_ID": job_id,
               "TRADAI_ARCTICDB_LIBRARY": self.library}
        task = ecs.run_task(
            cluster=self.cluster, taskDefinition=self.cloud.name("strategy"),
            launchType="FARGATE", networkConfiguration=self.network, group=f"it:{job_id}",
            overrides={"containerOverrides": [{"name": "strategy", "environment": [
                {"name": k, "value": v} for k, v in env.items()]}]})["tasks"][0]

        def stopped() -> dict[str, Any] | None:
            t = ecs.describe_tasks(cluster=self.cluster, tasks=[task["taskArn"]])["tasks"][0]
            return t if t["lastStatus"] == "STOPPED" else None

        return dict(wait_for(stopped, timeout=timeout, interval=0.5))

    def task_log(self, task: dict[str, Any]) -> str:
        record = next((t for t in self.cloud.control("/ecs/tasks")["tasks"]
                       if t["task_arn"] == task["taskArn"]), {})
        path = record.get("log")
        return Path(path).read_text()[-4000:] if path and Path(path).exists() else "(no log)"

    def s3_json(self, job_id: str, name: str) -> Any:
        body = self.cloud.client("s3").get_object(
            Bucket=self.results_bucket, Key=f"backtests/{job_id}/{name}")["Body"].read()
        return json.loads(body)

    def mlflow_run(self, strategy: str, job_id: str) -> Any:
        exp = self.mlflow.get_experiment_by_name(f"backtests-{strategy}")
        assert exp is not None, "no experiment for the strategy"
        runs = self.mlflow.search_runs([exp.experiment_id], f"tags.job_id = '{job_id}'")
        assert len(runs) == 1, runs
        return runs[0]


def mlflow_credentials(cloud: RunningCloud) -> dict[str, str]:
    """This process's MLflow clients log in as the stack's tasks do (the basic-auth secret)."""
    sm = cloud.client("secretsmanager")
    try:
        secret = json.loads(sm.get_secret_value(
            SecretId=cloud.name("mlflow-basic-auth"))["SecretString"])
    except sm.exceptions.ResourceNotFoundException:
        return {}
    return {"MLFLOW_TRACKING_USERNAME": secret["username"],
            "MLFLOW_TRACKING_PASSWORD": secret["password"]}


@pytest.fixture(scope="module")
def stack(cloud: RunningCloud) -> Iterator[Stack]:
    def seeded() -> bool:
        seed = cloud.status()["parts"].get("seed", {})
        assert seed.get("state") != "failed", seed
        return seed.get("state") == "done"

    wait_for(seeded, timeout=240, interval=0.5)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in mlflow_credentials(cloud).items():
            mp.setenv(key, value)
        s = Stack(cloud)
        s.write_market()
        yield s


def exit_code(task: dict[str, Any]) -> int | None:
    return task["containers"][0].get("exitCode")


# -- Freqtrade directly, in this process ----------------------------------------------------
def direct_backtest(stack: Stack, tmp: Path, strategy: str, pairs: list[str]) -> dict[str, Any]:
    """``freqtrade backtesting`` on the same ArcticDB data and the same config layers."""
    return freqtrade_directly(stack.store, stack.exchange_url, stack.egress_proxy, tmp,
                              strategy, pairs, TIMERANGE)


def freqtrade_directly(store: OhlcvStore, exchange_url: str, egress_proxy: str, tmp: Path,
                       strategy: str, pairs: list[str], timerange: str,
                       timeframe: str = "5m") -> dict[str, Any]:
    """Freqtrade's own backtesting, in this process, on the candles ``store`` holds up to the
    timerange's end and the config layers the container merges (base, the strategy's
    example config, the exchange); its results for ``strategy``."""
    from freqtrade.optimize.backtesting import Backtesting

    ft = direct_config(store, exchange_url, egress_proxy, tmp, strategy, pairs, timerange,
                       timeframe)
    bt = Backtesting(ft)
    bt.start()
    Backtesting.cleanup()
    return dict(bt.results["strategy"][strategy])


def direct_config(store: OhlcvStore, exchange_url: str, egress_proxy: str, tmp: Path,
                  strategy: str, pairs: list[str], timerange: str,
                  timeframe: str = "5m") -> dict[str, Any]:
    """``freqtrade_directly``'s configuration, its candles written as feather files."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType, RunMode

    end_ms = int(pd.Timestamp(timerange.split("-")[1], tz="UTC").timestamp() * 1000)
    step = int(pd.Timedelta(timeframe).total_seconds() * 1000)
    datadir = tmp / "data"
    (tmp / "user_data").mkdir()
    handler = get_datahandler(datadir, "feather")
    for pair in pairs:
        frame = store.read(SeriesKey("binance", pair, timeframe), None, end_ms - step)
        handler.ohlcv_store(pair, timeframe, frame.reset_index(), CandleType.SPOT)
    config = deep_merge(
        json.loads(BASE_CONFIG.read_text()),
        json.loads((CONFIGS_DIR / f"{strategy}.json").read_text()),
        exchange_layer(exchange_url, egress_proxy),
        {"exchange": {"pair_whitelist": pairs}, "timerange": timerange, "export": "none",
         "strategy_path": str(STRATEGIES_DIR), "dry_run": True})
    (tmp / "config.json").write_text(json.dumps(config))
    return setup_optimize_configuration(
        {"config": [str(tmp / "config.json")], "user_data_dir": str(tmp / "user_data"),
         "datadir": str(datadir)}, RunMode.BACKTEST)


def trade_keys(trades: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(t["pair"], str(t["open_date"]), str(t["close_date"]), round(t["profit_abs"], 9),
             t["exit_reason"]) for t in trades]


# -- tests ----------------------------------------------------------------------------------
def test_backtest_results_equal_freqtrade_run_directly(stack: Stack, tmp_path: Path) -> None:
    job_id = stack.put_job({"strategy": "EmaCrossover", "alias": "champion", "pairs": PAIRS,
                            "timeframe": "5m", "timerange": TIMERANGE})
    task = stack.run_container(job_id)
    assert exit_code(task) == 0, stack.task_log(task)

    item = stack.item(job_id)
    assert item["status"] == "RUNNING", "the workflow, not the container, completes a job"
    assert item["progress"] == 90 and "error" not in item
    result = item["result"]
    assert result["total_trades"] > 0
    assert "/#/experiments/" in item["mlflow_url"]

    direct = direct_backtest(stack, tmp_path, "EmaCrossover", PAIRS)
    # The item holds DynamoDB numbers (exact decimal text of the floats): equal, not close.
    assert result == headline(direct)

    stats = stack.s3_json(job_id, "stats.json")["strategy"]["EmaCrossover"]
    # The file goes through Freqtrade's JSON writer (rapidjson), which may move a float's last
    # bit; the item above is the exact comparison.
    assert metrics(stats) == pytest.approx(metrics(direct), rel=1e-12, abs=0)
    assert trade_keys(stack.s3_json(job_id, "trades.json")) == trade_keys(direct["trades"])
    summary = stack.s3_json(job_id, "result.json")
    assert summary["mlflow_url"] == item["mlflow_url"] and summary["timerange"] == TIMERANGE
    champion = stack.mlflow.get_model_version_by_alias("EmaCrossover", "champion")
    assert summary["strategy_version"] == str(champion.version)  # the alias, resolved

    run = stack.mlflow_run("EmaCrossover", job_id)
    assert run.info.run_id in item["mlflow_url"]
    assert run.data.tags["mode"] == "backtest" and run.data.tags["strategy"] == "EmaCrossover"
    assert run.data.metrics["total_trades"] == direct["total_trades"]
    assert run.data.metrics["profit_total"] == pytest.approx(direct["profit_total"], abs=0)
    assert run.data.params["timerange"] == TIMERANGE
    artifacts = {a.path for a in stack.mlflow.list_artifacts(run.info.run_id, "results")}
    assert {"results/stats.json", "results/trades.json", "results/config.json"} <= artifacts


def test_freqtrade_reports_its_progress_to_the_job_and_draws_no_bars(
        stack: Stack, tmp_path: Path) -> None:
    """The container's backtest (``runner.run_backtest``) on the direct run's config: Freqtrade
    hands every progress update to the job's reporter, phase by phase, and starts no rich
    refresh thread (its bars only reached the log, and the thread took the interpreter lock
    from the backtest loop); the results are the same as without a reporter."""
    import threading

    from rich.live import _RefreshThread

    from tradai.strategy_container import runner
    from tradai.strategy_container.progress import FreqtradeProgress

    seen: list[tuple[float, str, bool]] = []

    def report(percent: float, phase: str) -> None:
        drawing = any(isinstance(t, _RefreshThread) for t in threading.enumerate())
        seen.append((percent, phase, drawing))

    ft = direct_config(stack.store, stack.exchange_url, stack.egress_proxy, tmp_path,
                       "EmaCrossover", PAIRS, TIMERANGE)
    outcome = runner.run_backtest(ft, progress=FreqtradeProgress(report, every_s=0))

    assert seen, "Freqtrade reported no progress"
    assert not any(drawing for _, _, drawing in seen), "a rich refresh thread ran"
    percents = [p for p, _, _ in seen]
    assert percents == sorted(percents) and percents[0] >= 40 and percents[-1] == 90
    phases = [phase for _, phase, _ in seen]
    order = list(dict.fromkeys(phases))
    assert order == ["dataload", "analyze", "convert", "backtest"], order
    (tmp_path / "direct").mkdir()
    direct = direct_backtest(stack, tmp_path / "direct", "EmaCrossover", PAIRS)
    assert headline(outcome.stats) == headline(direct)


def test_a_crashing_strategy_exits_non_zero_with_the_reason_in_the_item(
        stack: Stack) -> None:
    adapter = MLflowAdapter(stack.mlflow_url,
                            ConfigStore(stack.cloud.client("s3"), stack.cloud.name("configs")))
    version = adapter.register_version(
        "CrashingStrategy", "CrashingStrategy",
        {"strategy": "CrashingStrategy", "timeframe": "5m", "stake_currency": "USDT",
         "exchange": {"name": "binance", "pair_whitelist": PAIRS}},
        source_code=CRASHING_SOURCE, source_filename="crashing.py", warmup_days=1)
    job_id = stack.put_job({"strategy": "CrashingStrategy", "version": version.version,
                            "pairs": PAIRS[:1], "timeframe": "5m", "timerange": TIMERANGE})
    task = stack.run_container(job_id)
    assert exit_code(task) == 1, stack.task_log(task)
    error = stack.item(job_id)["error"]
    assert "ValueError" in error and "indicator blew up on purpose" in error, error
    assert "populate_indicators" in error, error  # where, so the author can fix it
    assert "result" not in stack.item(job_id)


def test_missing_market_data_and_unsupported_modes_are_named(stack: Stack) -> None:
    job_id = stack.put_job({"strategy": "EmaCrossover", "alias": "champion",
                            "pairs": ["SOL/USDT"], "timeframe": "5m", "timerange": TIMERANGE})
    task = stack.run_container(job_id)
    assert exit_code(task) == 1, stack.task_log(task)
    assert stack.item(job_id)["error"].startswith(
        f"no market data for SOL/USDT 5m in {TIMERANGE}")

    job_id = stack.put_job({"strategy": "EmaCrossover", "alias": "champion"})
    task = stack.run_container(job_id, mode="live")
    assert exit_code(task) == 2, stack.task_log(task)
    assert "mode 'live' is a trading session, not a job" in stack.item(job_id)["error"]
