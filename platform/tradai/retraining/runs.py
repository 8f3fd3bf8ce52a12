"""Retraining runs in DynamoDB ``retraining-state``: one item per run under its strategy (hash
key ``model_name``), sorted by ``requested_at`` (ISO 8601 UTC).

A run holds its id (also its execution's name), strategy, state (QUEUED, RUNNING, COMPLETED,
FAILED, SKIPPED), why it was requested, the champion's and the challenger's versions, jobs
and metrics, the decision and its reason. A run is created once (a conditional put), so a
scheduler that runs twice on one day, or a message delivered twice, finds it instead of
making another. A terminal run is never moved again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

QUEUED, RUNNING, COMPLETED, FAILED, SKIPPED = "QUEUED", "RUNNING", "COMPLETED", "FAILED", "SKIPPED"
STATES = (QUEUED, RUNNING, COMPLETED, FAILED, SKIPPED)
TERMINAL = (COMPLETED, FAILED, SKIPPED)
PROMOTED, KEPT = "promoted", "kept"
# The run's two models; its item names their fields <role>_version, _job and _metrics.
ROLES = ("champion", "challenger")
HASH_KEY, RANGE_KEY = "model_name", "requested_at"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize


class RunNotFound(LookupError):
    pass


class RunFinished(RuntimeError):
    """The run is terminal already: it must not go on (the workflow's failure path, which
    changes nothing)."""


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_id_for(strategy: str, requested_at: str) -> str:
    """A Step Functions execution name ([A-Za-z0-9_-], at most 80): the request instant, then
    the strategy."""
    stamp = re.sub(r"[^0-9T]", "", requested_at.replace("Z", ""))
    return f"{stamp}-{_UNSAFE.sub('_', strategy)}"[:80]


def _dec(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _dec(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_dec(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_item(run: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serialize(_dec(v)) for k, v in run.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserialize(v)) for k, v in item.items()}


class RunStore:
    def __init__(self, ddb: Any, table: str, ttl_days: int = 90) -> None:
        self.ddb, self.table, self.ttl_days = ddb, table, ttl_days

    def create(self, run: Mapping[str, Any], now: float) -> bool:
        """Put a new run; False when a run with its keys exists already."""
        item = {**run, "ttl": int(now) + self.ttl_days * 86400, "updated_at": iso(now)}
        try:
            self.ddb.put_item(TableName=self.table, Item=to_item(item),
                              ConditionExpression="attribute_not_exists(#k)",
                              ExpressionAttributeNames={"#k": RANGE_KEY})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, strategy: str, requested_at: str) -> dict[str, Any] | None:
        got = self.ddb.get_item(TableName=self.table, ConsistentRead=True, Key=self._key(
            strategy, requested_at)).get("Item")
        return from_item(got) if got else None

    def require(self, strategy: str, requested_at: str) -> dict[str, Any]:
        run = self.get(strategy, requested_at)
        if run is None:
            raise RunNotFound(f"no retraining run of {strategy} requested at {requested_at}")
        return run

    def update(self, strategy: str, requested_at: str, now: float, *,
               only_if_open: bool = True, **fields: Any) -> bool:
        """Set ``fields``; with ``only_if_open`` only on a run that exists and is not terminal
        (False when it was not)."""
        fields = {**fields, "updated_at": iso(now)}
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _serialize(_dec(v)) for i, v in enumerate(fields.values())}
        kwargs: dict[str, Any] = {
            "TableName": self.table, "Key": self._key(strategy, requested_at),
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if only_if_open:
            names["#s"], names["#k"] = "state", RANGE_KEY
            for i, state in enumerate(TERMINAL):
                values[f":t{i}"] = {"S": state}
            kwargs["ConditionExpression"] = "attribute_exists(#k) AND NOT #s IN (" + ", ".join(
                f":t{i}" for i in range(len(TERMINAL))) + ")"
        try:
            self.ddb.update_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def runs_of(self, strategy: str, limit: int = 50) -> list[dict[str, Any]]:
        resp = self.ddb.query(TableName=self.table, ScanIndexForward=False, Limit=limit,
                              KeyConditionExpression="#h = :h",
                              ExpressionAttributeNames={"#h": HASH_KEY},
                              ExpressionAttributeValues={":h": {"S": strategy}})
        return [from_item(i) for i in resp.get("Items", [])]

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Every strategy's runs, newest first. A scan: the table holds a run per strategy and
        day at most, kept 90 days."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table}
        while True:
            resp = self.ddb.scan(**kwargs)
            items.extend(from_item(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        items.sort(key=lambda r: str(r.get(RANGE_KEY, "")), reverse=True)
        return items[:limit]

    @staticmethod
    def _key(strategy: str, requested_at: str) -> dict[str, Any]:
        return {HASH_KEY: {"S": strategy}, RANGE_KEY: {"S": requested_at}}
