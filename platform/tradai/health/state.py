"""The last known health of each service, one item per service in the ``service-health`` table,
and the two transitions that alert: to UNHEALTHY, and from UNHEALTHY back to HEALTHY.

A service first seen failing is STARTING, not UNHEALTHY: ECS ignores a new task's failing
health checks for the service's grace period, and so does this check. A service still not
healthy once ``start_grace`` has passed since it was first seen becomes UNHEALTHY and alerts
(one that never comes up must be seen).

A transition is a conditional UpdateItem on the state this check read (status and ``since``):
of two checks that overlap (a schedule run beside Lambda's retry of the previous one), exactly
one write succeeds and only that check publishes; a check working from an outdated read loses
instead of announcing a transition twice. DynamoDB evaluates the condition and applies the write
as one step
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from tradai.health.probe import ProbeResult

HASH_KEY = "service"
HEALTHY = "HEALTHY"
UNHEALTHY = "UNHEALTHY"
STARTING = "STARTING"
_deserialize = TypeDeserializer().deserialize


@dataclass(frozen=True)
class ServiceState:
    service: str
    status: str | None  # None: never checked
    since: float | None  # when it entered that status
    incidents: int = 0
    reason: str | None = None


def _num(value: float) -> dict[str, str]:
    return {"N": repr(round(float(value), 3))}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: _deserialize(v) for k, v in item.items()}
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in out.items()}


class HealthStateStore:
    def __init__(self, ddb: Any, table: str) -> None:
        self.ddb = ddb
        self.table = table

    def get(self, service: str) -> ServiceState:
        item = self.ddb.get_item(TableName=self.table, Key={HASH_KEY: {"S": service}},
                                 ConsistentRead=True).get("Item")
        if not item:
            return ServiceState(service, None, None)
        p = _plain(item)
        return ServiceState(service, p.get("status"), p.get("since"),
                            int(p.get("incidents") or 0), p.get("reason"))

    def all(self) -> dict[str, ServiceState]:
        out: dict[str, ServiceState] = {}
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.ddb.scan(**kwargs)
            for item in page.get("Items", []):
                p = _plain(item)
                out[p[HASH_KEY]] = ServiceState(p[HASH_KEY], p.get("status"), p.get("since"),
                                                int(p.get("incidents") or 0), p.get("reason"))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record(self, seen: ServiceState, result: ProbeResult, now: float,
               start_grace: float = 0.0) -> str | None:
        """Record ``result`` over the state ``seen``; returns ``"failed"`` or ``"recovered"``
        when this write made that transition (its caller alerts), else None. ``start_grace``:
        how long (platform-clock seconds) a service first seen failing may still be starting."""
        if result.healthy:
            if seen.status == UNHEALTHY:
                return "recovered" if self._transition(seen, HEALTHY, result, now) else None
            if seen.status != HEALTHY:  # first seen, or done starting: nothing to announce
                self._transition(seen, HEALTHY, result, now)
                return None
        elif seen.status == HEALTHY or (seen.status == STARTING and seen.since is not None
                                        and now - seen.since > start_grace):
            return "failed" if self._transition(seen, UNHEALTHY, result, now) else None
        elif seen.status is None:
            first = STARTING if start_grace > 0 else UNHEALTHY
            made = self._transition(seen, first, result, now)
            return "failed" if made and first == UNHEALTHY else None
        self._refresh(seen, result, now)
        return None

    def undo(self, seen: ServiceState, made: ServiceState, now: float) -> None:
        """Put back the state ``seen`` after a transition whose alert could not be published,
        so the next check makes (and announces) it again."""
        names = {"#st": "status"}
        values: dict[str, Any] = {":made": {"S": str(made.status)}, ":now": _num(now)}
        if seen.status is None:
            expr = "REMOVE #st, since"
        else:
            expr = "SET #st = :seen_status, since = :seen_since"
            values[":seen_status"] = {"S": seen.status}
            values[":seen_since"] = _num(seen.since or now)
        if made.status == UNHEALTHY:
            expr += " ADD incidents :minus"
            values[":minus"] = {"N": "-1"}
        try:
            self.ddb.update_item(TableName=self.table, Key={HASH_KEY: {"S": seen.service}},
                                 UpdateExpression=expr,
                                 ConditionExpression="#st = :made AND since = :now",
                                 ExpressionAttributeNames=names,
                                 ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _transition(self, seen: ServiceState, to: str, result: ProbeResult, now: float) -> bool:
        names = {"#st": "status"}
        values: dict[str, Any] = {":to": {"S": to}, ":now": _num(now), **_result_values(result)}
        expr = ("SET #st = :to, since = :now, checked_at = :now, " + _RESULT_SET)
        if to == UNHEALTHY:
            expr += ", alerted_at = :now ADD incidents :one"
            values[":one"] = {"N": "1"}
        elif seen.status == UNHEALTHY:
            expr += ", recovered_at = :now"
        if seen.status is None:
            condition = "attribute_not_exists(#st)"
        else:
            condition = "#st = :seen_status AND since = :seen_since"
            values[":seen_status"] = {"S": seen.status}
            values[":seen_since"] = _num(seen.since or 0.0)
        try:
            self.ddb.update_item(TableName=self.table, Key={HASH_KEY: {"S": seen.service}},
                                 UpdateExpression=expr, ConditionExpression=condition,
                                 ExpressionAttributeNames=names,
                                 ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _refresh(self, seen: ServiceState, result: ProbeResult, now: float) -> None:
        """No transition: keep the last result, without overwriting a transition another
        check made meanwhile (then this check's view is outdated and it records nothing)."""
        values: dict[str, Any] = {":st": {"S": str(seen.status)}, ":now": _num(now),
                                  **_result_values(result)}
        try:
            self.ddb.update_item(
                TableName=self.table, Key={HASH_KEY: {"S": seen.service}},
                UpdateExpression="SET checked_at = :now, " + _RESULT_SET,
                ConditionExpression="#st = :st",
                ExpressionAttributeNames={"#st": "status"}, ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


_RESULT_SET = "reason = :reason, latency_ms = :latency, probe_url = :url"


def _result_values(result: ProbeResult) -> dict[str, Any]:
    return {":reason": {"S": result.reason}, ":latency": _num(result.latency_ms),
            ":url": {"S": result.url}}
