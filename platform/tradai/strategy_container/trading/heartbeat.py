"""The session's heartbeat: its attributes of the session item (``tradai.trading.records``)
and CloudWatch metrics, written together every ``HEARTBEAT_PERIOD_SECONDS``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from tradai.trading.records import HASH_KEY, RECENT_TRADES_KEPT

log = logging.getLogger(__name__)
NAMESPACE = "TradAI/Trading"
_serializer = TypeSerializer()


@dataclass(frozen=True)
class Beat:
    """What the bot looks like now."""

    version: int
    version_since: float
    last_candle: str | None
    open_trades: int
    profit_abs: float
    profit_pct: float
    loop_latency_ms: float
    recent_trades: list[dict[str, Any]] = field(default_factory=list)


def _dynamo(value: Any) -> Any:
    """Floats as Decimal (DynamoDB numbers), recursively."""
    if isinstance(value, float):
        return Decimal(repr(round(value, 8)))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    return value


class HeartbeatWriter:
    def __init__(self, dynamodb: Any, cloudwatch: Any, table: str, session_id: str, mode: str,
                 task_arn: str | None, ttl_days: int) -> None:
        self.dynamodb = dynamodb
        self.cloudwatch = cloudwatch
        self.table = table
        self.session_id = session_id
        self.mode = mode
        self.task_arn = task_arn
        self.ttl_seconds = ttl_days * 86_400

    def write(self, beat: Beat, now: float) -> None:
        values = {
            "last_heartbeat": now, "version": beat.version,
            "version_since": beat.version_since, "last_candle": beat.last_candle,
            "open_trades": beat.open_trades, "profit_abs": beat.profit_abs,
            "profit_pct": beat.profit_pct, "loop_latency_ms": beat.loop_latency_ms,
            "recent_trades": beat.recent_trades[:RECENT_TRADES_KEPT],
            "task_arn": self.task_arn, "ttl": int(now + self.ttl_seconds),
        }
        values = {k: v for k, v in values.items() if v is not None}
        sets = [f"#{k} = :{k}" for k in values]
        sets.append("#heartbeats = if_not_exists(#heartbeats, :zero) + :one")
        self.dynamodb.update_item(
            TableName=self.table, Key={HASH_KEY: {"S": self.session_id}},
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE #error, #failed_at",
            ExpressionAttributeNames={**{f"#{k}": k for k in values},
                                      "#heartbeats": "heartbeats", "#error": "error",
                                      "#failed_at": "failed_at"},
            ExpressionAttributeValues={
                **{f":{k}": _serializer.serialize(_dynamo(v)) for k, v in values.items()},
                ":zero": {"N": "0"}, ":one": {"N": "1"}})
        self._metrics(beat, now)

    def failed(self, message: str, now: float) -> None:
        """An error the session cannot get past (the API shows the session FAILED)."""
        self.dynamodb.update_item(
            TableName=self.table, Key={HASH_KEY: {"S": self.session_id}},
            UpdateExpression="SET #error = :error, #at = :at",
            ExpressionAttributeNames={"#error": "error", "#at": "failed_at"},
            ExpressionAttributeValues={":error": {"S": message[:1000]},
                                       ":at": {"N": str(int(now))}})

    def _metrics(self, beat: Beat, now: float) -> None:
        dims = [{"Name": "Session", "Value": self.session_id}, {"Name": "Mode", "Value": self.mode}]
        at = datetime.fromtimestamp(now, UTC)
        try:
            self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[
                {"MetricName": "Profit", "Dimensions": dims, "Timestamp": at,
                 "Value": beat.profit_abs, "Unit": "None"},
                {"MetricName": "OpenTrades", "Dimensions": dims, "Timestamp": at,
                 "Value": float(beat.open_trades), "Unit": "Count"},
                {"MetricName": "LoopLatency", "Dimensions": dims, "Timestamp": at,
                 "Value": beat.loop_latency_ms, "Unit": "Milliseconds"},
                {"MetricName": "Heartbeat", "Dimensions": dims, "Timestamp": at,
                 "Value": 1.0, "Unit": "Count"},
            ])
        except Exception as exc:  # metrics are best effort; the heartbeat item is the record
            log.warning("could not put the session's metrics: %s", exc)
