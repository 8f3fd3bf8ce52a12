"""Readers of the workflow-state table drop tickets whose ``ttl`` has passed, before DynamoDB's
TTL process deletes them ("Items that have expired and not been deleted will still show up in
reads, queries, and scans", UpdateTimeToLive API reference; filter them as
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html shows).
moto in process keeps expired items, as AWS does until the deletion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.spec_tables import create_spec_table
from tradai.backtests.store import TicketStore
from tradai.clock import Clock
from tradai.expiry import is_expired
from tradai.strategy_container.job import JobItem
from tradai.workflows.status import JobStatusStore

TABLE = "tradai-test-workflow-state"
NOW = 2_000_000_000.0


class FixedClock(Clock):
    def now(self) -> float:
        return NOW


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1")
        create_spec_table(client, "workflow-state", TABLE)
        yield client


def ticket(ddb: Any, job_id: str, ttl: float, owner: str = "alice") -> None:
    ddb.put_item(TableName=TABLE, Item={
        "job_id": {"S": job_id}, "owner": {"S": owner}, "created_at": {"S": job_id},
        "status": {"S": "RUNNING"}, "ttl": {"N": str(int(ttl))}})


def test_is_expired_at_or_before_now_and_never_without_a_number() -> None:
    assert is_expired({"ttl": NOW}, NOW) and is_expired({"ttl": NOW - 1}, NOW)
    assert not is_expired({"ttl": NOW + 1}, NOW)
    assert not is_expired({}, NOW) and not is_expired({"ttl": "soon"}, NOW)


def test_ticket_store_get_and_get_many_skip_an_expired_ticket(ddb: Any) -> None:
    ticket(ddb, "old", NOW - 1)
    ticket(ddb, "live", NOW + 3600)
    store = TicketStore(ddb, TABLE, FixedClock())
    assert store.get("old") is None
    assert store.get("live")["job_id"] == "live"
    assert [t["job_id"] for t in store.get_many(["old", "live"])] == ["live"]
    # still in the table: only the readers drop it
    assert "Item" in ddb.get_item(TableName=TABLE, Key={"job_id": {"S": "old"}})


def test_ticket_store_list_by_owner_skips_expired_tickets(ddb: Any) -> None:
    ticket(ddb, "a-old", NOW - 10)
    ticket(ddb, "b-live", NOW + 10)
    ticket(ddb, "c-old", NOW)
    items, cursor = TicketStore(ddb, TABLE, FixedClock()).list_by_owner("alice", 10)
    assert [i["job_id"] for i in items] == ["b-live"] and cursor is None


def test_a_new_ticket_takes_the_id_of_an_expired_one_but_not_of_a_live_one(ddb: Any) -> None:
    ticket(ddb, "old", NOW - 1)
    ticket(ddb, "live", NOW + 1)
    store = TicketStore(ddb, TABLE, FixedClock())
    record = {"owner": "bob", "created_at": "x", "status": "QUEUED", "ttl": int(NOW + 86400)}
    assert store.create({"job_id": "old", **record})
    assert store.get("old")["owner"] == "bob"
    assert not store.create({"job_id": "live", **record})


def test_job_status_store_and_the_container_skip_an_expired_ticket(ddb: Any) -> None:
    ticket(ddb, "old", NOW - 1)
    ticket(ddb, "live", NOW + 1)
    statuses = JobStatusStore(ddb, TABLE, FixedClock())
    assert statuses.get("old") is None and statuses.get("live") is not None
    assert JobItem(ddb, TABLE, "old", FixedClock()).read() is None
    assert JobItem(ddb, TABLE, "live", FixedClock()).read() is not None
