"""Heartbeat staleness: the domain of ``trading-heartbeat-check``.

Each check scans the ``trading-heartbeats`` table. A session whose last heartbeat (or, when none
ever came, its creation) is older than ``STALE_AFTER_SECONDS`` of platform-clock time becomes
STALE; one that writes heartbeats again while STALE recovers. Each transition is one
conditional UpdateItem, and only the invocation whose write succeeded publishes: checks that
overlap, and Lambda's two retries of a failed asynchronous invocation
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), publish
one alert per incident and one recovery notice, never one per check. DynamoDB evaluates a
condition and applies the write as one step
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).

The attributes written here are the monitor's own (``records.MONITOR_ATTRIBUTES``); the API's
and the container's are only read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.expiry import is_expired, not_expired_condition
from tradai.settings import deployed, require_alerts_topic
from tradai.topology.naming import physical_name
from tradai.trading import alerts
from tradai.trading.records import HASH_KEY, STALE_AFTER_SECONDS, STOPPED, STOPPING

log = logging.getLogger(__name__)

NAMESPACE = "TradAI/Trading"
HEARTBEATS_TABLE = "trading-heartbeats"
_ENDED = (STOPPING, STOPPED)
_deserialize = TypeDeserializer().deserialize


class Now(Protocol):
    def now(self) -> float: ...


class MonitorSettings(BaseSettings):
    """Where the monitor finds its table and topic. Locally the bootstrap names them
    (``TRADAI_TABLE_*``, ``TRADAI_TOPIC_*``); the Pulumi program sets the topic as
    ``TRADAI_ALERTS_TOPIC_ARN`` and the table name follows the one naming rule."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    env: str = Field(default="dev", validation_alias="TRADAI_ENV")
    heartbeats_table: str | None = Field(default=None,
                                         validation_alias="TRADAI_TABLE_TRADING_HEARTBEATS")
    alerts_topic: str | None = deployed(AliasChoices(
        "TRADAI_ALERTS_TOPIC_ARN", "TRADAI_TOPIC_ALERTS"))

    @property
    def table(self) -> str:
        return self.heartbeats_table or physical_name(self.project, self.env, HEARTBEATS_TABLE)

    def topic(self) -> str:
        return require_alerts_topic(self.alerts_topic,
                                    "the monitor records no incident it cannot announce")


@dataclass
class CheckReport:
    checked_at: float = 0.0
    monitored: int = 0
    stale: list[str] = field(default_factory=list)  # STALE after this check
    alerted: list[str] = field(default_factory=list)  # a new incident, announced by this check
    recovered: list[str] = field(default_factory=list)  # recovery notices sent by this check
    lost: list[str] = field(default_factory=list)  # another writer got there first
    skipped: list[str] = field(default_factory=list)  # neither heartbeat nor created_at
    max_age: float = 0.0
    errors: list[str] = field(default_factory=list)


def heartbeat_age(item: dict[str, Any], now: float) -> float | None:
    """Seconds since the last heartbeat, or since creation when none ever came (a session
    that never starts must alert too); None when the item has neither."""
    ref = item.get("last_heartbeat")
    if ref is None:
        ref = item.get("created_at")
    if ref is None or isinstance(ref, bool):
        return None
    try:
        return now - float(ref)
    except (TypeError, ValueError):
        return None


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: _deserialize(v) for k, v in item.items()}
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in out.items()}


def _num(value: float) -> dict[str, str]:
    return {"N": repr(round(float(value), 3))}


class HeartbeatMonitor:
    def __init__(self, ddb: Any, table: str, sns: Any, topic_arn: str, cloudwatch: Any,
                 clock: Now, stale_after: float = STALE_AFTER_SECONDS) -> None:
        self.ddb = ddb
        self.table = table
        self.sns = sns
        self.topic_arn = topic_arn
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.stale_after = stale_after

    # -- one check ------------------------------------------------------------------------------
    def check(self) -> CheckReport:
        now = self.clock.now()
        report = CheckReport(checked_at=now)
        for item in self.sessions(now):
            sid = str(item[HASH_KEY])
            age = heartbeat_age(item, now)
            if age is None:
                report.skipped.append(sid)
                continue
            report.monitored += 1
            report.max_age = max(report.max_age, age)
            try:
                self._evaluate(item, sid, age, now, report)
            except Exception as exc:  # one session's failure does not hide the others
                log.exception("heartbeat check of %s failed", sid)
                report.errors.append(f"{sid}: {type(exc).__name__}: {exc}")
        self._put_metrics(report)
        return report

    def _evaluate(self, item: dict[str, Any], sid: str, age: float, now: float,
                  report: CheckReport) -> None:
        stale_since = item.get("stale_since")
        if age > self.stale_after:
            if stale_since is not None:
                report.stale.append(sid)  # the incident's alert went out already
            elif self._mark_stale(item, age, now):
                report.stale.append(sid)
                report.alerted.append(sid)
            else:
                report.lost.append(sid)
        elif stale_since is not None:
            if self._recover(item, age, float(stale_since), now):
                report.recovered.append(sid)
            else:
                report.lost.append(sid)

    def sessions(self, now: float) -> list[dict[str, Any]]:
        """Sessions to watch: not stopping or stopped, not expired (TTL not yet swept)."""
        alive, names, values = not_expired_condition(now)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": f"{alive} AND (attribute_not_exists(#s) OR NOT #s IN "
                                f"(:stopping, :stopped))",
            "ExpressionAttributeNames": {"#s": "status", **names},
            "ExpressionAttributeValues": {":stopping": {"S": STOPPING},
                                          ":stopped": {"S": STOPPED}, **values},
        }
        out: list[dict[str, Any]] = []
        while True:
            page = self.ddb.scan(**kwargs)
            out += [_plain(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        # the filter again, in case a reader's table has other writers' items
        return [i for i in out if i.get("status") not in _ENDED and not is_expired(i, now)]

    # -- transitions ----------------------------------------------------------------------------
    def _mark_stale(self, item: dict[str, Any], age: float, now: float) -> bool:
        """Open an incident and announce it, if this check is the one that opened it."""
        sid = str(item[HASH_KEY])
        cutoff = now - self.stale_after
        try:
            new = self.ddb.update_item(
                TableName=self.table, Key={HASH_KEY: {"S": sid}},
                UpdateExpression="SET stale_since = :now, stale_alerted_at = :now "
                                 "ADD incidents :one",
                # Still stale at the moment of writing (a heartbeat may have just come), not
                # stopped meanwhile, and no incident open: the one writer that wins announces.
                ConditionExpression=(
                    "attribute_exists(#k) AND attribute_not_exists(stale_since) "
                    "AND (#hb < :cutoff OR (attribute_not_exists(#hb) AND created_at < :cutoff)) "
                    "AND (attribute_not_exists(#s) OR NOT #s IN (:stopping, :stopped))"),
                ExpressionAttributeNames={"#k": HASH_KEY, "#hb": "last_heartbeat",
                                          "#s": "status"},
                ExpressionAttributeValues={":now": _num(now), ":one": {"N": "1"},
                                           ":cutoff": _num(cutoff),
                                           ":stopping": {"S": STOPPING},
                                           ":stopped": {"S": STOPPED}},
                ReturnValues="ALL_NEW")["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        incident = int(_plain(new).get("incidents") or 1)
        subject, body = alerts.stale_alert(item, age, self.stale_after, now, incident)
        try:
            alerts.publish(self.sns, self.topic_arn, subject, body)
        except Exception:
            # Give the incident back, so the next check (or Lambda's retry) announces it.
            self._undo_stale(sid, now)
            raise
        log.warning("session %s stale: no heartbeat for %.0f s (incident %d)", sid, age,
                    incident)
        return True

    def _undo_stale(self, sid: str, opened_at: float) -> None:
        try:
            self.ddb.update_item(
                TableName=self.table, Key={HASH_KEY: {"S": sid}},
                UpdateExpression="REMOVE stale_since, stale_alerted_at ADD incidents :minus",
                ConditionExpression="stale_since = :mine",
                ExpressionAttributeValues={":mine": _num(opened_at), ":minus": {"N": "-1"}})
        except ClientError:
            log.exception("could not reopen the stale incident of %s", sid)

    def _recover(self, item: dict[str, Any], age: float, stale_since: float,
                 now: float) -> bool:
        """Close the open incident and send the recovery notice, if this check closed it."""
        sid = str(item[HASH_KEY])
        try:
            self.ddb.update_item(
                TableName=self.table, Key={HASH_KEY: {"S": sid}},
                UpdateExpression="SET recovered_at = :now REMOVE stale_since",
                ConditionExpression="stale_since = :seen AND #hb >= :cutoff",
                ExpressionAttributeNames={"#hb": "last_heartbeat"},
                ExpressionAttributeValues={":now": _num(now), ":seen": _num(stale_since),
                                           ":cutoff": _num(now - self.stale_after)})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        subject, body = alerts.recovery_notice(item, age, stale_since, now)
        try:
            alerts.publish(self.sns, self.topic_arn, subject, body)
        except Exception:
            self._undo_recovery(sid, stale_since, now, item.get("recovered_at"))
            raise
        log.warning("session %s recovered after %.0f s stale", sid, now - stale_since)
        return True

    def _undo_recovery(self, sid: str, stale_since: float, closed_at: float,
                       previous: Any) -> None:
        restore = ("SET stale_since = :seen, recovered_at = :prev" if previous is not None
                   else "SET stale_since = :seen REMOVE recovered_at")
        values = {":seen": _num(stale_since), ":mine": _num(closed_at)}
        if previous is not None:
            values[":prev"] = _num(float(previous))
        try:
            self.ddb.update_item(
                TableName=self.table, Key={HASH_KEY: {"S": sid}}, UpdateExpression=restore,
                ConditionExpression="attribute_not_exists(stale_since) AND recovered_at = :mine",
                ExpressionAttributeValues=values)
        except ClientError:
            log.exception("could not reopen the recovered incident of %s", sid)

    # -- metrics --------------------------------------------------------------------------------
    def _put_metrics(self, report: CheckReport) -> None:
        """One datapoint per metric per check; the timestamp is left to CloudWatch (the time
        of receipt), which the local cloud gives on the platform clock."""
        self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=[
            {"MetricName": "StaleSessions", "Value": float(len(report.stale)),
             "Unit": "Count"},
            {"MetricName": "MonitoredSessions", "Value": float(report.monitored),
             "Unit": "Count"},
            {"MetricName": "MaxHeartbeatAge", "Value": round(report.max_age, 3),
             "Unit": "Seconds"},
        ])
