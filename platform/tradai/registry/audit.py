"""The registry's audit log (DynamoDB ``registry-audit``): who moved which alias of which
strategy, when, from which version to which, and why.

One item per event under the strategy (hash key), sorted by ``event_id`` = the instant
(fixed-width epoch seconds) and a random suffix, so a query reads a strategy's history newest
first. A rollback names the move it undoes, so successive rollbacks walk back through the
history instead of toggling.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from tradai.clock import Clock

REGISTER, PROMOTE, ROLLBACK = "register", "promote", "rollback"
MOVES = (REGISTER, PROMOTE, ROLLBACK)


class AuditUnavailable(RuntimeError):
    """The audit table cannot be read or written: the change is refused (503), not unlogged."""


class AuditEvent(BaseModel):
    strategy: str
    event_id: str
    at: str  # ISO instant of the platform clock
    action: str  # register | promote | rollback
    alias: str | None = None
    from_version: int | None = None
    to_version: int | None = None
    reason: str | None = None
    actor: str  # the token's sub
    actor_name: str | None = None
    roles: list[str] = []
    undoes: str | None = None  # a rollback: the event_id of the move it reverted


class NoEarlierVersion(Exception):
    """409: nothing to roll back to; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuditLog:
    def __init__(self, ddb: Any, table: str, clock: Clock) -> None:
        self.ddb, self.table, self.clock = ddb, table, clock

    def record(self, **fields: Any) -> AuditEvent:
        now = self.clock.now()
        # Fixed-width seconds with microseconds: sorts as the instants do, even within a second.
        event = AuditEvent(event_id=f"{now:017.6f}#{uuid.uuid4().hex[:8]}", at=iso_z(now),
                           **fields)
        item = {k: _attr(v) for k, v in event.model_dump().items() if v not in (None, [])}
        try:
            self.ddb.put_item(TableName=self.table, Item=item,
                              ConditionExpression="attribute_not_exists(event_id)")
        except (ClientError, BotoCoreError) as exc:
            raise AuditUnavailable(f"registry audit log unavailable: {exc}") from exc
        return event

    def history(self, strategy: str, limit: int = 50) -> list[AuditEvent]:
        return list(self._newest_first(strategy, limit))

    def rollback_target(self, strategy: str, alias: str, current: int | None) -> AuditEvent:
        """The latest move of ``alias`` not undone yet; its ``from_version`` is where a rollback
        goes. NoEarlierVersion when there is none, or the alias was moved elsewhere since."""
        undone: set[str] = set()
        for event in self._newest_first(strategy, None):
            if event.alias != alias or event.action not in MOVES:
                continue
            if event.action == ROLLBACK:
                if event.undoes:
                    undone.add(event.undoes)
                continue
            if event.event_id in undone:
                continue
            if event.from_version is None:
                raise NoEarlierVersion(f"{strategy}@{alias} has no earlier version on record "
                                       f"(it was first set to v{event.to_version})")
            if current is not None and event.to_version != current:
                raise NoEarlierVersion(
                    f"{strategy}@{alias} is v{current}, but its last recorded move set "
                    f"v{event.to_version}: it was moved outside the platform; promote the "
                    f"version you want explicitly")
            return event
        raise NoEarlierVersion(f"{strategy}@{alias} has no move on record to roll back")

    def _newest_first(self, strategy: str, limit: int | None) -> Iterator[AuditEvent]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ScanIndexForward": False,
            "KeyConditionExpression": "strategy = :s",
            "ExpressionAttributeValues": {":s": {"S": strategy}}}
        seen = 0
        try:
            while True:
                resp = self.ddb.query(**kwargs)
                for item in resp.get("Items", []):
                    yield AuditEvent(**{k: _value(v) for k, v in item.items()})
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
                if "LastEvaluatedKey" not in resp:
                    return
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise AuditUnavailable(f"registry audit log unavailable: {exc}") from exc


def iso_z(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"SS": [str(v) for v in value]}
    return {"S": str(value)}


def _value(attr: dict[str, Any]) -> Any:
    if "N" in attr:
        return int(attr["N"])
    if "SS" in attr:
        return sorted(attr["SS"])
    if "BOOL" in attr:
        return attr["BOOL"]
    return attr["S"]
