"""Tickets in the workflow-state table (hash key ``job_id``, GSI ``by-owner`` on owner +
created_at, TTL attribute ``ttl``). The backend writes the QUEUED ticket; the workflow's
update-status Lambda moves it on (status, progress, result, error, mlflow_url).

A ticket whose ``ttl`` has passed is gone for every read here, and a new ticket may take its
id, even before DynamoDB's TTL process deleted it (``tradai.expiry``)."""

from __future__ import annotations

import base64
import contextlib
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from tradai.backtests.errors import DependencyUnavailable
from tradai.clock import Clock, default_clock
from tradai.expiry import is_expired, live, not_expired_condition

OWNER_INDEX = "by-owner"
_ser, _de = TypeSerializer(), TypeDeserializer()


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in record.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; JSON wants int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


class TicketStore:
    def __init__(self, dynamodb: Any, table: str, clock: Clock | None = None) -> None:
        self.ddb = dynamodb
        self.table = table
        self.clock = clock or default_clock()

    def create(self, record: dict[str, Any]) -> bool:
        """Write a new ticket; False if a live one with this job id exists (a duplicate won).
        An expired ticket not yet deleted counts as absent, as it does for ``get``."""
        expired, names, values = _expired_condition(self.clock.now())
        try:
            self.ddb.put_item(TableName=self.table, Item=to_item(record),
                              ConditionExpression=f"attribute_not_exists(job_id) OR {expired}",
                              ExpressionAttributeNames=names,
                              ExpressionAttributeValues=values)
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise _unavailable("write the ticket", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("write the ticket", exc) from exc

    def get(self, job_id: str) -> dict[str, Any] | None:
        try:
            item = self.ddb.get_item(TableName=self.table, Key={"job_id": {"S": job_id}},
                                     ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("read the ticket", exc) from exc
        ticket = from_item(item) if item else None
        return None if ticket is None or is_expired(ticket, self.clock.now()) else ticket

    def get_many(self, job_ids: list[str]) -> list[dict[str, Any]]:
        try:
            resp = self.ddb.batch_get_item(RequestItems={self.table: {
                "Keys": [{"job_id": {"S": j}} for j in job_ids], "ConsistentRead": True}})
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("read tickets", exc) from exc
        return live([from_item(i) for i in resp.get("Responses", {}).get(self.table, [])],
                    self.clock.now())

    def delete_unqueued(self, job_id: str) -> None:
        """Take back a ticket whose message was refused by the queue (best effort), unless the
        consumer has started it already (a concurrent retry's message got through). Should
        the refused send have reached the queue after all, the consumer recreates the ticket
        from the message."""
        with contextlib.suppress(ClientError, BotoCoreError):
            self.ddb.delete_item(
                TableName=self.table, Key={"job_id": {"S": job_id}},
                ConditionExpression="#s = :queued AND attribute_not_exists(execution_arn)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":queued": {"S": "QUEUED"}})

    def list_by_owner(self, owner: str, limit: int,
                      cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        # The filter runs after Limit: a page may hold fewer than ``limit`` tickets, and the
        # cursor still continues after the last item read.
        alive, names, values = not_expired_condition(self.clock.now())
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": OWNER_INDEX, "Limit": limit,
            "KeyConditionExpression": "#o = :o", "FilterExpression": alive,
            "ExpressionAttributeNames": {"#o": "owner", **names},
            "ExpressionAttributeValues": {":o": {"S": owner}, **values},
            "ScanIndexForward": False}
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, owner)
        try:
            resp = self.ddb.query(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("list tickets", exc) from exc
        last = resp.get("LastEvaluatedKey")
        return [from_item(i) for i in resp.get("Items", [])], encode_cursor(last)

    def owner_job_ids(self, owner: str, status: str) -> list[str]:
        """Every live job id of ``owner`` in ``status``, all pages of the owner index read."""
        alive, names, values = not_expired_condition(self.clock.now())
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#o = :o", "FilterExpression": f"#s = :s AND {alive}",
            "ExpressionAttributeNames": {"#o": "owner", "#s": "status", **names},
            "ExpressionAttributeValues": {":o": {"S": owner}, ":s": {"S": status}, **values},
            "ProjectionExpression": "job_id"}
        ids: list[str] = []
        try:
            while True:
                page = self.ddb.query(**kwargs)
                ids += [i["job_id"]["S"] for i in page.get("Items", [])]
                if not page.get("LastEvaluatedKey"):
                    return ids
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("list tickets", exc) from exc


def _expired_condition(now: float) -> tuple[str, dict[str, str], dict[str, Any]]:
    return "#ttl <= :now", {"#ttl": "ttl"}, {":now": {"N": str(int(now))}}


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str, owner: str) -> dict[str, Any]:
    """A cursor is only good for its owner's index; anything else is a bad request."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if key["owner"]["S"] != owner or set(key) != {"owner", "created_at", "job_id"}:
            raise ValueError("cursor belongs to another listing")
        return {k: {"S": str(v["S"])} for k, v in key.items()}
    except Exception as exc:
        raise InvalidCursor(str(exc)) from exc


class InvalidCursor(ValueError):
    pass


def _unavailable(action: str, exc: Exception) -> DependencyUnavailable:
    return DependencyUnavailable(f"backtest records unavailable, could not {action}", exc)
