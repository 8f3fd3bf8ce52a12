"""The model-driven strategy without a stack: training is deterministic, the model folder is
registered with its version (training window, reference distribution) and reaches the
strategy's code folder as the strategy container arranges it, and the strategy trades in a real
Freqtrade backtest.

Candles are the stack exchange's market (``tradai_sim.exchange.Market``, seed 42) written to a
local ArcticDB (LMDB); Freqtrade reaches the in-process exchange simulator for its markets, as
the container reaches the stack's. MLflow is a SQLite store in the test's folder (no server)
and the configs bucket moto's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from tradai.config.exchange import exchange_layer
from tradai.config.merge import deep_merge
from tradai.data.keys import SeriesKey
from tradai.data.store import OhlcvStore
from tradai.models import artifact
from tradai.models import tags as MT
from tradai.models.features import FEATURES, WARMUP_CANDLES, compute_features
from tradai.models.monitor import RegistryModels
from tradai.models.registration import NAME, register_model_version
from tradai.models.training import NotEnoughCandles, TrainingWindow, train_from_store
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.strategies import CONFIGS_DIR
from tradai.strategy_container.strategy_source import strategy_dir
from tradai_sim.exchange import Market, make_server

SEED = 42  # the stack exchange's market
PAIRS = ["BTC/USDT", "ETH/USDT"]
M5 = 300_000
BASE_CONFIG = Path(__file__).parents[2] / "platform" / "tradai" / "config" / "base.json"


def ms(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").timestamp() * 1000)


# Trained on four weeks of December, backtested on two weeks of January (out of sample).
WINDOW = TrainingWindow("BTC/USDT", "5m", ms("2025-12-01"), ms("2025-12-29"))
TIMERANGE = "20260105-20260119"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> OhlcvStore:
    s = OhlcvStore(f"lmdb://{tmp_path_factory.mktemp('arctic')}")
    market = Market(SEED, PAIRS)
    first, last = ms("2025-11-25"), ms("2026-01-19")
    for pair in PAIRS:
        c = market.candles(pair, "5m", first, (last - first) // M5 + 1, last + M5)
        index = pd.DatetimeIndex(pd.to_datetime(c.open_time, unit="ms", utc=True), name="date")
        s.write(SeriesKey("binance", pair, "5m"), pd.DataFrame(
            {"open": c.open, "high": c.high, "low": c.low, "close": c.close,
             "volume": c.volume}, index=index))
    return s


# -- features and training --------------------------------------------------------------------
def test_features_use_no_future_candle(store: OhlcvStore) -> None:
    candles = store.read(SeriesKey("binance", "BTC/USDT", "5m"), ms("2025-12-01"),
                         ms("2025-12-03"))
    full = compute_features(candles)
    cut = compute_features(candles.iloc[:400])
    assert list(full.columns) == list(FEATURES)
    # A candle's features are the same whether or not later candles exist.
    pd.testing.assert_frame_equal(full.iloc[:400], cut)
    assert full.iloc[:WARMUP_CANDLES].isna().all().all()
    assert full.iloc[WARMUP_CANDLES:].notna().all().all()


def test_training_twice_on_the_same_candles_gives_the_same_model(
        store: OhlcvStore, tmp_path: Path) -> None:
    a, b = train_from_store(store, WINDOW), train_from_store(store, WINDOW)
    candles = store.read(SeriesKey("binance", "ETH/USDT", "5m"), ms("2026-01-05"),
                         ms("2026-01-19"))
    pa, pb = a.probabilities(candles), b.probabilities(candles)
    assert pa.notna().sum() > 3000
    pd.testing.assert_series_equal(pa, pb)  # exactly, not approximately
    assert pa.std() > 0.05  # the model does say something
    # The folder registered with the version is byte-identical too (its digest identifies it).
    fa = artifact.save(a, tmp_path / "a")
    fb = artifact.save(b, tmp_path / "b")
    for name in (artifact.MODEL_FILE, artifact.META_FILE, artifact.REFERENCE_FILE):
        assert (fa / name).read_bytes() == (fb / name).read_bytes(), name
    # What a loaded model predicts is what the trained one did.
    pd.testing.assert_series_equal(artifact.load(fa).probabilities(candles), pa)
    meta = json.loads((fa / artifact.META_FILE).read_text())
    assert meta["window"] == WINDOW.to_json() and meta["feature_set"] == "ohlcv-v1"
    # Every candle of the window but the last ``horizon``, whose future is past its end.
    assert meta["facts"]["rows"] == (WINDOW.end_ms - WINDOW.start_ms) // M5 + 1 - a.horizon
    assert a.fit_cpu_seconds is not None and a.fit_cpu_seconds < 2.0
    # The reference: deciles of the training rows, each holding about a tenth of them.
    ref = a.reference.features["volatility_24"]
    assert len(ref.edges) == 9 and all(abs(s - 0.1) < 0.01 for s in ref.shares)


def test_a_window_without_candles_is_refused_with_what_is_there(store: OhlcvStore) -> None:
    with pytest.raises(NotEnoughCandles, match="no candles of SOL/USDT"):
        train_from_store(store, TrainingWindow("SOL/USDT", "5m", WINDOW.start_ms,
                                               WINDOW.end_ms))
    with pytest.raises(NotEnoughCandles, match="usable candles"):
        train_from_store(store, TrainingWindow("BTC/USDT", "5m", ms("2025-12-01"),
                                               ms("2025-12-01 12:00")))


def test_a_model_of_another_feature_set_is_refused(store: OhlcvStore, tmp_path: Path) -> None:
    folder = artifact.save(train_from_store(store, WINDOW), tmp_path / "m")
    meta = json.loads((folder / artifact.META_FILE).read_text())
    (folder / artifact.META_FILE).write_text(json.dumps({**meta, "feature_set": "ohlcv-v0"}))
    with pytest.raises(artifact.ModelUnusable, match="feature set 'ohlcv-v0'"):
        artifact.load(folder)
    with pytest.raises(artifact.ModelUnusable, match=r"no model\.json"):
        artifact.load(tmp_path / "nothing")


# -- registered, fetched, backtested ----------------------------------------------------------
@pytest.fixture()
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MLflowAdapter]:
    monkeypatch.chdir(tmp_path)  # MLflow's local artifact root (./mlruns)
    for k, v in {"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(Bucket="configs", CreateBucketConfiguration={
            "LocationConstraint": "eu-central-1"})
        yield MLflowAdapter(f"sqlite:///{tmp_path / 'mlflow.db'}", ConfigStore(s3, "configs"))


def freqtrade_backtest(code_dir: Path, exchange_url: str, store: OhlcvStore,
                       tmp: Path) -> dict[str, Any]:
    """Freqtrade's own backtesting, in this process, on the store's candles, with the config
    layers the container merges (base, the strategy's config, the exchange)."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType, RunMode
    from freqtrade.optimize.backtesting import Backtesting

    datadir = tmp / "data"
    (tmp / "user_data").mkdir(parents=True)
    handler = get_datahandler(datadir, "feather")
    for pair in PAIRS:
        frame = store.read(SeriesKey("binance", pair, "5m"), None, ms("2026-01-19") - M5)
        handler.ohlcv_store(pair, "5m", frame.reset_index(), CandleType.SPOT)
    config = deep_merge(
        json.loads(BASE_CONFIG.read_text()), json.loads((CONFIGS_DIR / f"{NAME}.json").read_text()),
        exchange_layer(exchange_url),
        {"timerange": TIMERANGE, "export": "none", "strategy_path": str(code_dir),
         "dry_run": True})
    (tmp / "config.json").write_text(json.dumps(config))
    ft = setup_optimize_configuration(
        {"config": [str(tmp / "config.json")], "user_data_dir": str(tmp / "user_data"),
         "datadir": str(datadir)}, RunMode.BACKTEST)
    bt = Backtesting(ft)
    try:
        bt.start()
    finally:
        Backtesting.cleanup()
    return dict(bt.results["strategy"][NAME])


def test_registered_version_carries_its_model_and_trades_in_a_freqtrade_backtest(
        store: OhlcvStore, registry: MLflowAdapter, tmp_path: Path) -> None:
    cpu = time.process_time()
    model = train_from_store(store, WINDOW)
    train_cpu = time.process_time() - cpu
    first = register_model_version(registry, model, aliases=["champion"])
    assert first.registered
    again = register_model_version(registry, train_from_store(store, WINDOW))
    assert not again.registered and again.version.version == first.version.version

    version = registry.get_model_version(NAME, "champion")
    assert MT.is_model_driven(version)
    assert (version.tags[MT.TRAINING_PAIR], version.tags[MT.TRAINING_TIMEFRAME]) == (
        "BTC/USDT", "5m")
    assert (version.tags[MT.TRAINING_START], version.tags[MT.TRAINING_END]) == (
        "2025-12-01T00:00:00Z", "2025-12-29T00:00:00Z")
    assert version.tags[MT.MODEL_REFERENCE] == "strategy/model/reference.json"

    # The drift monitor reads the reference from the version's run.
    models, errors = RegistryModels(registry, registry.client).monitored()
    assert errors == [] and [m.strategy for m in models] == [NAME]
    assert models[0].reference == model.reference and models[0].pair == "BTC/USDT"

    # The strategy container puts the model beside the version's code.
    code = strategy_dir(registry.client, version, tmp_path / "ws")
    assert (code / "model_probability.py").is_file()
    assert (code / "model" / artifact.MODEL_FILE).is_file()

    with make_server(Market(SEED, PAIRS), port=0) as exchange:
        stats = freqtrade_backtest(code, exchange.url, store, tmp_path / "bt")
    print(f"training CPU {train_cpu:.2f} s (fit {model.fit_cpu_seconds} s); "
          f"backtest: {stats['total_trades']} trades, profit {stats['profit_total']:.4f}")
    assert stats["total_trades"] > 0
    assert {t["pair"] for t in stats["trades"]} <= set(PAIRS)
    # Exits come from the model's low probability too, not only from ROI and the stop.
    assert "exit_signal" in {t["exit_reason"] for t in stats["trades"]}
