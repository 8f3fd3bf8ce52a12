"""Model drift: PSI (by hand and on distributions), and the drift monitor against moto
(DynamoDB, SNS, CloudWatch) with stand-ins for the registry and the candle store: its state,
its metrics, and one alert per incident across consecutive checks. The handler is thin."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from tradai.data.keys import SeriesKey
from tradai.lambdas import drift_monitor as handler_module
from tradai.models.candles import CandleColumns
from tradai.models.drift import EPSILON, DriftResult, feature_drift, psi
from tradai.models.features import compute_features
from tradai.models.monitor import (
    NAMESPACE,
    DriftMonitor,
    DriftReport,
    DriftSettings,
    MonitoredModel,
)
from tradai.models.reference import Reference, bin_shares, build_reference, feature_reference

REGION = "eu-central-1"
TABLE = "tradai-test-drift-state"
M5 = 300_000
NOW = pd.Timestamp("2026-03-01", tz="UTC").timestamp()


# -- PSI ----------------------------------------------------------------------------------------
def test_psi_equals_the_hand_computed_value() -> None:
    # expected 25/25/50 %, actual 50/25/25 %:
    #   (0.50 - 0.25) * ln(0.50 / 0.25) = 0.25 * 0.693147 = 0.173287
    #   (0.25 - 0.25) * ln(1)           = 0
    #   (0.25 - 0.50) * ln(0.25 / 0.50) = -0.25 * -0.693147 = 0.173287
    #   PSI = 0.346574 (= 0.5 * ln 2)
    assert psi([0.25, 0.25, 0.5], [0.5, 0.25, 0.25]) == pytest.approx(0.346574, abs=1e-6)
    assert psi([0.25, 0.25, 0.5], [0.5, 0.25, 0.25]) == pytest.approx(0.5 * math.log(2))
    # An empty bin is floored at EPSILON = 0.0001 (no infinite log):
    #   (0.4 - 0.5) * ln(0.4 / 0.5)       = -0.1 * -0.223144 = 0.022314 (twice)
    #   (0.2 - 0.0001) * ln(0.2 / 0.0001) = 0.1999 * 7.600902 = 1.519420
    #   PSI = 0.022314 * 2 + 1.519420 = 1.564049
    assert EPSILON == 1e-4
    assert psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]) == pytest.approx(1.564049, abs=1e-5)
    assert psi([0.1] * 10, [0.1] * 10) == 0.0
    with pytest.raises(ValueError, match="bins differ"):
        psi([0.5, 0.5], [1.0])


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shifted_one() -> None:
    rng = np.random.default_rng(7)
    train = rng.normal(0, 1, 20_000)
    ref = feature_reference(train)
    same, _ = bin_shares(rng.normal(0, 1, 5_000), ref.edges)
    shifted, _ = bin_shares(rng.normal(1.0, 1, 5_000), ref.edges)
    wider, _ = bin_shares(rng.normal(0, 2.0, 5_000), ref.edges)
    assert psi(ref.shares, same) < 0.02  # sampling noise only
    assert psi(ref.shares, shifted) > 0.25  # a significant shift
    assert psi(ref.shares, wider) > 0.25  # the same mean, a different spread


def test_reference_bins_are_deciles_with_open_outer_bins() -> None:
    ref = feature_reference(np.arange(1000, dtype=float))
    assert len(ref.edges) == 9 and ref.count == 1000
    assert all(s == pytest.approx(0.1) for s in ref.shares)
    shares, n = bin_shares([-1e9, 1e9, np.nan], ref.edges)  # outside the training range
    assert n == 2 and shares[0] == shares[-1] == 0.5
    # A feature with many equal values: repeated quantiles merge, no bin is empty by design.
    flat = feature_reference(np.r_[np.zeros(900), np.arange(100.0)])
    assert len(flat.edges) < 9 and min(flat.shares) > 0
    assert Reference.from_json(json.loads(json.dumps(build_reference(
        pd.DataFrame({"x": np.arange(50.0)})).to_json()))).features["x"].count == 50


# -- the monitor, against moto --------------------------------------------------------------------
def candles(sigma: float, n: int, end_ms: int, seed: int) -> pd.DataFrame:
    """A random walk of 5m candles ending at ``end_ms`` with per-candle volatility ``sigma``."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, n)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, sigma, n)) * close
    index = pd.DatetimeIndex(pd.to_datetime(end_ms - M5 * np.arange(n)[::-1], unit="ms",
                                            utc=True), name="date")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.lognormal(3, 0.3 + 20 * sigma, n)}, index=index)


CALM = 0.002
REFERENCE = build_reference(compute_features(candles(CALM, 6000, 0, seed=1)).dropna())


@dataclass
class Market:
    """Stands in for the candles (ArcticDB through the data-collection service): whatever
    regime the test sets, up to the clock's now."""

    sigma: float = CALM
    seed: int = 10
    reads: list[tuple[SeriesKey, int, int]] = field(default_factory=list)

    def frame(self, key: SeriesKey, start_ms: int, end_ms: int) -> pd.DataFrame:
        self.reads.append((key, start_ms, end_ms))
        self.seed += 1  # each check sees new candles
        return candles(self.sigma, (end_ms - start_ms) // M5 + 1, end_ms, self.seed)

    def columns(self, key: SeriesKey, start_ms: int, end_ms: int) -> CandleColumns:
        f = self.frame(key, start_ms, end_ms)
        return CandleColumns(list(f.index.as_unit("ms").asi8), *(
            f[c].tolist() for c in ("open", "high", "low", "close", "volume")))


@dataclass
class Models:
    """Stands in for the registry: the champion's version and reference."""

    version: int = 1
    errors: list[str] = field(default_factory=list)

    def monitored(self) -> tuple[list[MonitoredModel], list[str]]:
        return [MonitoredModel("ModelProbability", self.version, "champion", REFERENCE,
                               "BTC/USDT", "5m")], list(self.errors)


@dataclass
class Clock:
    t: float = NOW

    def now(self) -> float:
        return self.t


class Aws:
    def __init__(self) -> None:
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "model_name", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "model_name",
                                                     "AttributeType": "S"}])
        self.sns = boto3.client("sns", region_name=REGION)
        self.topic = self.sns.create_topic(Name="tradai-test-alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        self.sqs = sqs
        self.inbox = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn,
                           Attributes={"RawMessageDelivery": "true"})
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)

    def alerts(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10)
            msgs = got.get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=m["ReceiptHandle"])

    def state(self) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=TABLE, Key={"model_name": {"S": "ModelProbability"}},
                                 ConsistentRead=True)["Item"]
        return {k: next(iter(v.values())) for k, v in item.items()}


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for k, v in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield Aws()


def monitor(aws: Aws, market: Market, models: Models, clock: Clock,
            sns: Any = None) -> DriftMonitor:
    return DriftMonitor(models, market, aws.ddb, TABLE, sns or aws.sns, aws.topic,
                        aws.cloudwatch, clock, threshold=0.25, recent_candles=864)


def test_one_alert_per_incident_across_consecutive_checks(aws: Aws) -> None:
    market, models, clock = Market(), Models(), Clock()
    mon = monitor(aws, market, models, clock)

    calm = mon.check()  # 1: the market as in training
    assert calm.monitored == 1 and calm.drifting == [] and calm.alerted == [] and not calm.errors
    assert max(calm.psi["ModelProbability"].values()) < 0.25  # noise of a 3-day sample
    first = aws.state()
    assert first["status"] == "OK" and first["since"] == first["checked_at"]
    assert set(first["psi"]) == set(REFERENCE.features)
    assert aws.alerts() == []
    # The window read: 864 closed candles up to now, plus the features' warm-up before them.
    key, start, end = market.reads[-1]
    assert key == SeriesKey("binance", "BTC/USDT", "5m")
    assert end == int(NOW * 1000) - M5 and start == end - (864 - 1 + 100) * M5

    market.sigma = 0.008  # a regime change: four times the volatility
    clock.t += 6 * 3600
    drift = mon.check()  # 2: enters DRIFTING -> one alert
    assert drift.drifting == ["ModelProbability"] and drift.alerted == ["ModelProbability"]
    state = aws.state()
    assert state["status"] == "DRIFTING" and float(state["since"]) == clock.t
    assert int(state["incidents"]) == 1 and float(state["max_psi"]) >= 0.25
    assert state["max_feature"] in REFERENCE.features
    [alert] = aws.alerts()
    assert alert["alert"] == "model-drift" and alert["strategy"] == "ModelProbability"
    assert alert["version"] == 1 and alert["incident"] == 1
    assert alert["max_psi"] == pytest.approx(float(state["max_psi"]))

    since = float(state["since"])
    for _ in range(2):  # 3, 4: still DRIFTING -> no alert, the incident's start kept
        clock.t += 6 * 3600
        again = mon.check()
        assert again.drifting == ["ModelProbability"] and again.alerted == []
    assert float(aws.state()["since"]) == since and aws.alerts() == []

    market.sigma = CALM
    clock.t += 6 * 3600
    back = mon.check()  # 5: back to OK, no alert
    assert back.recovered == ["ModelProbability"] and back.alerted == []
    assert aws.state()["status"] == "OK" and aws.alerts() == []

    market.sigma = 0.008
    clock.t += 6 * 3600
    second = mon.check()  # 6: a new incident -> alerts again
    assert second.alerted == ["ModelProbability"]
    [alert] = aws.alerts()
    assert alert["incident"] == 2 and int(aws.state()["incidents"]) == 2

    # A promoted version has its own reference: drifting too, it is a new incident.
    models.version = 2
    clock.t += 6 * 3600
    promoted = mon.check()
    assert promoted.alerted == ["ModelProbability"]
    assert aws.alerts()[0]["version"] == 2 and int(aws.state()["version"]) == 2


def test_metrics_go_to_the_models_namespace(aws: Aws) -> None:
    market = Market(sigma=0.008)
    monitor(aws, market, Models(), Clock()).check()
    metrics = aws.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    names = {(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"]))
             for m in metrics}
    assert names == {("MaxPSI", (("Strategy", "ModelProbability"),)),
                     ("Drifting", (("Strategy", "ModelProbability"),)),
                     ("DriftingModels", ())}
    stats = aws.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="MaxPSI",
        Dimensions=[{"Name": "Strategy", "Value": "ModelProbability"}],
        StartTime=pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1),
        EndTime=pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1), Period=3600,
        Statistics=["Maximum"])["Datapoints"]
    assert stats and stats[0]["Maximum"] >= 0.25


def test_a_failed_alert_gives_the_incident_back_and_the_next_check_announces_it(
        aws: Aws) -> None:
    class FailingSns:
        def publish(self, **kwargs: Any) -> Any:
            raise RuntimeError("SNS unavailable")

    market, models, clock = Market(sigma=0.008), Models(), Clock()
    failed = monitor(aws, market, models, clock, sns=FailingSns()).check()
    assert failed.alerted == [] and "SNS unavailable" in failed.errors[0]
    with pytest.raises(KeyError):
        aws.state()  # no incident recorded that was not announced
    clock.t += 60
    retried = monitor(aws, market, models, clock).check()
    assert retried.alerted == ["ModelProbability"] and len(aws.alerts()) == 1


def test_a_concurrent_check_that_wrote_first_wins_and_alone_alerts(aws: Aws) -> None:
    """Two checks read the same state; the one whose conditional write lands second loses."""
    market, models, clock = Market(sigma=0.008), Models(), Clock()
    first, second = monitor(aws, market, models, clock), monitor(aws, market, models, clock)
    real_get = aws.ddb.get_item

    class SlowReader:  # the second check reads, then the first one completes, then it writes
        def __getattr__(self, name: str) -> Any:
            return getattr(aws.ddb, name)

        def get_item(self, **kwargs: Any) -> Any:
            got = real_get(**kwargs)
            first.check()
            return got

    second.ddb = SlowReader()
    report = second.check()
    assert report.lost == ["ModelProbability"] and report.alerted == []
    assert len(aws.alerts()) == 1 and int(aws.state()["incidents"]) == 1


def test_too_few_recent_candles_is_skipped_without_a_state(aws: Aws) -> None:
    class Empty(Market):
        def frame(self, key: SeriesKey, start_ms: int, end_ms: int) -> pd.DataFrame:
            return super().frame(key, start_ms, end_ms).iloc[:150]

    report = monitor(aws, Empty(), Models(), Clock()).check()
    assert "ModelProbability" in report.skipped and report.errors == []
    assert "recent values" in report.skipped["ModelProbability"]
    assert aws.alerts() == []


def test_feature_drift_needs_every_reference_feature() -> None:
    with pytest.raises(ValueError, match="lack"):
        feature_drift(REFERENCE, pd.DataFrame({"ret_1": np.zeros(200)}))
    result = DriftResult({"a": 0.3, "b": 0.1}, {"a": 1, "b": 1}, 0.25)
    assert (result.status, result.max_feature, result.max_psi) == ("DRIFTING", "a", 0.3)


# -- the handler --------------------------------------------------------------------------------
@dataclass
class Context:
    function_name: str = "tradai-test-drift-monitor"
    invoked_function_arn: str = (f"arn:aws:lambda:{REGION}:123456789012:function:"
                                 "tradai-test-drift-monitor")
    memory_limit_in_mb: int = 512
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


class StubMonitor:
    def __init__(self, report: DriftReport) -> None:
        self.report = report
        self.checks = 0

    def check(self) -> DriftReport:
        self.checks += 1
        return self.report


SCHEDULED = {"version": "0", "id": "e-1", "detail-type": "Scheduled Event",
             "source": "aws.events", "time": "2026-03-01T00:00:00Z", "detail": {}}


def test_handler_runs_one_check_and_answers_its_report(monkeypatch: pytest.MonkeyPatch) -> None:
    report = DriftReport(checked_at=NOW, monitored=1, psi={"S": {"ret_1": 0.3}},
                         drifting=["S"], alerted=["S"])
    stub = StubMonitor(report)
    monkeypatch.setattr(handler_module, "build_monitor", lambda: stub)
    assert handler_module.handler(SCHEDULED, Context()) == asdict(report)
    assert stub.checks == 1


def test_handler_fails_the_invocation_when_a_strategy_could_not_be_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stub = StubMonitor(DriftReport(errors=["S: RegistryUnavailable: down"]))
    monkeypatch.setattr(handler_module, "build_monitor", lambda: stub)
    with pytest.raises(RuntimeError, match=r"drift check incomplete.*RegistryUnavailable"):
        handler_module.handler(SCHEDULED, Context())


def test_handler_builds_its_monitor_from_the_deployed_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {"TRADAI_ENV": "test", "TRADAI_MLFLOW_URL": "http://mlflow:5000",
                 # a login already given: nothing is read from Secrets Manager
                 "MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p",
                 "TRADAI_ALERTS_TOPIC_ARN": "arn:aws:sns:eu-central-1:1:alerts",
                 "TRADAI_DATA_COLLECTION_URL": "http://data-collection:8002",
                 "AWS_DEFAULT_REGION": REGION,
                 "TRADAI_DRIFT_THRESHOLD": "0.2"}.items():
        monkeypatch.setenv(k, v)
    mon = handler_module.build_monitor()
    assert mon.table == "tradai-test-drift-state" and mon.topic_arn.endswith(":alerts")
    assert mon.threshold == 0.2 and mon.recent_candles == 864
    assert mon.candles.base == "http://data-collection:8002"  # type: ignore[attr-defined]
    monkeypatch.delenv("TRADAI_ALERTS_TOPIC_ARN")
    with pytest.raises(RuntimeError, match="no alerts topic configured"):
        handler_module.build_monitor()
    assert DriftSettings(TRADAI_ENV="x").table == "tradai-x-drift-state"  # type: ignore[call-arg]
