"""Model drift monitoring: the domain of ``drift-monitor``.

Each check takes every strategy whose monitored alias (``champion``) points at a model-driven
version (one with a reference distribution, ``tradai.models.tags``), computes the PSI of each
feature between that reference and the strategy's recent candles in ArcticDB, and

- writes the drift state to the ``drift-state`` table, one item per strategy (hash key
  ``model_name``): version, per-feature PSI, max PSI and its feature, status OK / DRIFTING,
  ``since`` (when the status began), the window measured, ``incidents``;
- puts CloudWatch metrics (``TradAI/Models``: ``MaxPSI`` and ``Drifting`` per strategy,
  ``DriftingModels`` overall);
- publishes to the alerts topic once per incident: entering DRIFTING alerts, staying DRIFTING
  does not, returning to OK and drifting again is a new incident. A newly monitored version
  starts afresh (its own reference), so a promoted version that drifts too alerts again.

Each transition is one conditional write on the state as it was read, and only the check whose
write succeeded publishes: overlapping checks and Lambda's retries of a failed asynchronous
invocation (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)
alert once. DynamoDB evaluates a condition and applies the write as one step
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).
A publish that fails gives the incident back, so the next check announces it.
"""

from __future__ import annotations

import bisect
import json
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.data.keys import SeriesKey
from tradai.data.timeframes import timeframe_ms
from tradai.models import tags as MT
from tradai.models.candles import CandleSource
from tradai.models.drift import DRIFTING, OK, SIGNIFICANT, DriftResult, NotEnoughData, feature_drift
from tradai.models.features import WARMUP_CANDLES, feature_columns
from tradai.models.reference import Reference
from tradai.registry.models import StrategyNotFound, StrategyVersion
from tradai.settings import deployed, require_alerts_topic
from tradai.topology.naming import physical_name
from tradai.trading.alerts import publish

log = logging.getLogger(__name__)

NAMESPACE = "TradAI/Models"
DRIFT_TABLE = "drift-state"
HASH_KEY = "model_name"
ALERT = "model-drift"
SUBJECT_MAX = 99  # SNS: ASCII, no line breaks, under 100 characters
_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize


class Now(Protocol):
    def now(self) -> float: ...


class DriftSettings(BaseSettings):
    """The monitor's table, topic, registry, candles (the data-collection service) and
    thresholds."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    env: str = Field(default="dev", validation_alias="TRADAI_ENV")
    drift_table: str | None = Field(default=None, validation_alias="TRADAI_TABLE_DRIFT_STATE")
    alerts_topic: str | None = deployed(AliasChoices(
        "TRADAI_ALERTS_TOPIC_ARN", "TRADAI_TOPIC_ALERTS"))
    mlflow_url: str | None = deployed("TRADAI_MLFLOW_URL")
    data_collection_url: str | None = deployed("TRADAI_DATA_COLLECTION_URL")
    threshold: float = Field(default=SIGNIFICANT, gt=0, validation_alias="TRADAI_DRIFT_THRESHOLD")
    # The recent window: 3 days of 5m candles by default (864), enough for stable deciles.
    recent_candles: int = Field(default=864, ge=100, validation_alias="TRADAI_DRIFT_CANDLES")
    alias: str = Field(default="champion", validation_alias="TRADAI_DRIFT_ALIAS")

    @property
    def table(self) -> str:
        return self.drift_table or physical_name(self.project, self.env, DRIFT_TABLE)

    def topic(self) -> str:
        return require_alerts_topic(self.alerts_topic,
                                    "the monitor records no incident it cannot announce")

    def require_data_collection_url(self) -> str:
        if not self.data_collection_url:
            raise RuntimeError("TRADAI_DATA_COLLECTION_URL is not set: the monitor reads "
                               "recent candles through the data-collection service")
        return self.data_collection_url

    def require_mlflow_url(self) -> str:
        if not self.mlflow_url:
            raise RuntimeError("TRADAI_MLFLOW_URL is not set: the monitor reads the versions "
                               "and their reference distributions from MLflow")
        return self.mlflow_url.rstrip("/")


# -- what is monitored ------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoredModel:
    strategy: str
    version: int
    alias: str
    reference: Reference
    pair: str
    timeframe: str
    exchange: str = "binance"


class ModelSource(Protocol):
    def monitored(self) -> tuple[list[MonitoredModel], list[str]]:
        """The models to check, and errors naming strategies that could not be read."""
        ...


class RegistryReader(Protocol):
    def list_strategies(self) -> list[Any]: ...

    def get_model_version(self, name: str, stage_or_alias: str | int = ...) -> StrategyVersion: ...


class RegistryModels:
    """Model-driven versions from the strategy registry: the alias of each strategy that has
    it, when that version carries a reference distribution, read from the version's run."""

    def __init__(self, registry: RegistryReader, artifacts: Any, alias: str = "champion") -> None:
        self.registry = registry
        self.artifacts = artifacts  # an MlflowClient: download_artifacts(run_id, path, dest)
        self.alias = alias

    def monitored(self) -> tuple[list[MonitoredModel], list[str]]:
        models, errors = [], []
        for summary in self.registry.list_strategies():
            if self.alias not in (summary.aliases or {}):
                continue
            try:
                version = self.registry.get_model_version(summary.name, self.alias)
                if not MT.is_model_driven(version):
                    continue
                models.append(self._model(version))
            except StrategyNotFound:
                continue  # the alias moved or was removed meanwhile
            except Exception as exc:  # one unreadable version does not hide the others
                log.exception("reading the reference of %s@%s failed", summary.name, self.alias)
                errors.append(f"{summary.name}: {type(exc).__name__}: {exc}")
        return models, errors

    def _model(self, version: StrategyVersion) -> MonitoredModel:
        if not version.run_id:
            raise ValueError(f"{version.name} v{version.version} has no run to read its "
                             "reference from")
        with tempfile.TemporaryDirectory() as tmp:
            path = self.artifacts.download_artifacts(version.run_id,
                                                     version.tags[MT.MODEL_REFERENCE], tmp)
            reference = Reference.from_json(json.loads(Path(path).read_text()))
        t = version.tags
        return MonitoredModel(
            strategy=version.name, version=version.version, alias=self.alias,
            reference=reference, pair=t.get(MT.TRAINING_PAIR) or version.pairs[0],
            timeframe=t.get(MT.TRAINING_TIMEFRAME) or version.timeframe,
            exchange=t.get(MT.TRAINING_EXCHANGE) or "binance")


# -- one check --------------------------------------------------------------------------------
@dataclass
class DriftReport:
    checked_at: float = 0.0
    monitored: int = 0
    psi: dict[str, dict[str, float]] = field(default_factory=dict)  # strategy -> feature -> PSI
    drifting: list[str] = field(default_factory=list)  # DRIFTING after this check
    alerted: list[str] = field(default_factory=list)  # a new incident, announced by this check
    recovered: list[str] = field(default_factory=list)  # back to OK in this check
    lost: list[str] = field(default_factory=list)  # another check wrote first
    skipped: dict[str, str] = field(default_factory=dict)  # strategy -> why (too few candles)
    errors: list[str] = field(default_factory=list)


class DriftMonitor:
    def __init__(self, models: ModelSource, candles: CandleSource, ddb: Any, table: str,
                 sns: Any, topic_arn: str, cloudwatch: Any, clock: Now,
                 threshold: float = SIGNIFICANT, recent_candles: int = 864) -> None:
        self.models = models
        self.candles = candles
        self.ddb, self.table = ddb, table
        self.sns, self.topic_arn = sns, topic_arn
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.threshold = threshold
        self.recent_candles = recent_candles

    def check(self) -> DriftReport:
        now = self.clock.now()
        report = DriftReport(checked_at=now)
        models, errors = self.models.monitored()
        report.errors += errors
        measured: list[tuple[MonitoredModel, DriftResult]] = []
        for model in models:
            report.monitored += 1
            try:
                result, window = self.measure(model, now)
                report.psi[model.strategy] = dict(result.psi)
                self._record(model, result, window, now, report)
                measured.append((model, result))
            except NotEnoughData as exc:
                report.skipped[model.strategy] = str(exc)
            except Exception as exc:  # one strategy's failure does not hide the others
                log.exception("drift check of %s failed", model.strategy)
                report.errors.append(f"{model.strategy}: {type(exc).__name__}: {exc}")
        self._put_metrics(measured)
        return report

    # -- measuring ------------------------------------------------------------------------------
    def measure(self, model: MonitoredModel, now: float) -> tuple[DriftResult, tuple[int, int]]:
        """PSI of the newest ``recent_candles`` closed candles up to ``now`` (the features'
        warm-up read before them); the window measured, as open times in ms."""
        step = timeframe_ms(model.timeframe)
        newest = int(now * 1000) // step * step - step  # the newest closed candle's open time
        start = newest - (self.recent_candles - 1) * step
        key = SeriesKey(model.exchange, model.pair, model.timeframe)
        cols = self.candles.columns(key, start - WARMUP_CANDLES * step, newest)
        feats = feature_columns(cols.high, cols.low, cols.close, cols.volume)
        first = bisect.bisect_left(cols.open_time, start)
        recent = {name: values[first:] for name, values in feats.items()}
        result = feature_drift(model.reference, recent, self.threshold,
                               min_count=min(100, self.recent_candles))
        return result, (start, newest)

    # -- the state --------------------------------------------------------------------------------
    def _record(self, model: MonitoredModel, result: DriftResult, window: tuple[int, int],
                now: float, report: DriftReport) -> None:
        name = model.strategy
        raw = self._read(name)
        prev = _plain(raw) if raw is not None else None
        same_version = prev is not None and int(prev.get("version", -1)) == model.version
        prev_status = prev.get("status") if prev is not None and same_version else None
        status = result.status
        changed = status != prev_status
        item = {
            HASH_KEY: name, "version": model.version, "alias": model.alias,
            "status": status, "psi": dict(result.psi), "max_psi": result.max_psi,
            "max_feature": result.max_feature, "threshold": result.threshold,
            "checked_at": now, "window_start_ms": window[0], "window_end_ms": window[1],
            "pair": model.pair, "timeframe": model.timeframe,
            "since": now if changed else prev.get("since", now) if prev else now,
            "incidents": int(prev.get("incidents", 0)) if prev else 0,
        }
        if prev is not None and prev.get("alerted_at") is not None:
            item["alerted_at"] = prev["alerted_at"]
        opening = status == DRIFTING and prev_status != DRIFTING
        if opening:
            item["incidents"] += 1
            item["alerted_at"] = now
        if status == OK and prev_status == DRIFTING:
            item["recovered_at"] = now
        elif prev is not None and prev.get("recovered_at") is not None:
            item["recovered_at"] = prev["recovered_at"]
        if not self._write(item, raw):
            report.lost.append(name)
            return
        if status == DRIFTING:
            report.drifting.append(name)
        if status == OK and prev_status == DRIFTING:
            report.recovered.append(name)
        if opening:
            try:
                self._alert(model, result, window, now, item["incidents"])
            except Exception:
                self._restore(name, raw, now)  # the next check announces it
                raise
            report.alerted.append(name)
            log.warning("%s v%d drifting: max PSI %.3f on %s (incident %d)", name,
                        model.version, result.max_psi, result.max_feature, item["incidents"])

    def _read(self, name: str) -> dict[str, Any] | None:
        """The item as stored (attribute values), so a condition compares exact numbers."""
        got = self.ddb.get_item(TableName=self.table, Key={HASH_KEY: {"S": name}},
                                ConsistentRead=True).get("Item")
        return dict(got) if got else None

    def _write(self, item: dict[str, Any], raw: dict[str, Any] | None) -> bool:
        """Put the new state if the item is still as it was read (its ``checked_at``)."""
        if raw is None:
            cond: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#k)",
                                    "ExpressionAttributeNames": {"#k": HASH_KEY}}
        else:
            cond = {"ConditionExpression": "checked_at = :seen",
                    "ExpressionAttributeValues": {":seen": raw["checked_at"]}}
        try:
            self.ddb.put_item(TableName=self.table, Item=_item(item), **cond)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _restore(self, name: str, raw: dict[str, Any] | None, mine: float) -> None:
        """Give an opened incident back after its alert failed: the state as it was read."""
        try:
            cond = {"ConditionExpression": "checked_at = :mine",
                    "ExpressionAttributeValues": {":mine": _serialize(_dec(mine))}}
            if raw is None:
                self.ddb.delete_item(TableName=self.table, Key={HASH_KEY: {"S": name}}, **cond)
            else:
                self.ddb.put_item(TableName=self.table, Item=raw, **cond)
        except ClientError:
            log.exception("could not reopen the drift incident of %s", name)

    # -- announcing -----------------------------------------------------------------------------
    def _alert(self, model: MonitoredModel, result: DriftResult, window: tuple[int, int],
               now: float, incident: int) -> None:
        subject = (f"DRIFT model {model.strategy} v{model.version}: PSI "
                   f"{result.max_psi:.2f} on {result.max_feature}")
        body = {
            "alert": ALERT, "strategy": model.strategy, "version": model.version,
            "alias": model.alias, "status": DRIFTING, "max_psi": result.max_psi,
            "max_feature": result.max_feature, "psi": dict(result.psi),
            "threshold": result.threshold, "pair": model.pair, "timeframe": model.timeframe,
            "window_start": _iso_ms(window[0]), "window_end": _iso_ms(window[1]),
            "since": _iso_ms(int(now * 1000)), "incident": incident,
            "detail": (f"The features of {model.pair} {model.timeframe} over the last "
                       f"{self.recent_candles} candles no longer look like the training window "
                       f"of {model.strategy} v{model.version} (PSI >= {result.threshold}). "
                       f"Retraining may be needed; no further alert until it returns to OK."),
        }
        ascii_subject = " ".join(subject.encode("ascii", "replace").decode().split())
        publish(self.sns, self.topic_arn, ascii_subject[:SUBJECT_MAX], body)

    # -- metrics --------------------------------------------------------------------------------
    def _put_metrics(self, measured: Iterable[tuple[MonitoredModel, DriftResult]]) -> None:
        """Per strategy its max PSI and whether it drifts; overall the drifting count. The
        timestamp is CloudWatch's (the time of receipt; the platform clock locally)."""
        data: list[dict[str, Any]] = []
        drifting = 0
        for model, result in measured:
            dims = [{"Name": "Strategy", "Value": model.strategy}]
            is_drifting = result.status == DRIFTING
            drifting += is_drifting
            data += [{"MetricName": "MaxPSI", "Dimensions": dims, "Unit": "None",
                      "Value": round(result.max_psi, 6)},
                     {"MetricName": "Drifting", "Dimensions": dims, "Unit": "Count",
                      "Value": float(is_drifting)}]
        data.append({"MetricName": "DriftingModels", "Value": float(drifting), "Unit": "Count"})
        for i in range(0, len(data), 1000):  # PutMetricData takes up to 1,000 datums
            self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[i:i + 1000])


def _dec(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(repr(round(value, 6)))
    if isinstance(value, dict):
        return {k: _dec(v) for k, v in value.items()}
    return value


def _item(plain: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(_dec(v)) for k, v in plain.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return {k: conv(_deserialize(v)) for k, v in item.items()}


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
