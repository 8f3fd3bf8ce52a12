"""DynamoDB TTL: expired items stay readable until the TTL process deletes them, later."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.cloud import RunningCloud, wait_for

LAG = 600  # simulated seconds: 30 wall seconds at scale 20


def ttl_status(cloud: RunningCloud) -> dict[str, Any]:
    return cloud.status()["parts"]["dynamodb-ttl"]


@pytest.fixture
def tables(cloud: RunningCloud) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    ddb = cloud.client("dynamodb")
    for name in made:
        ddb.delete_table(TableName=name)


def ttl_table(cloud: RunningCloud, tables: list[str]) -> str:
    ddb = cloud.client("dynamodb")
    name = f"t-ttl-{uuid.uuid4().hex[:10]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    tables.append(name)
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
    return name


def reads(cloud: RunningCloud, table: str) -> dict[str, bool]:
    """Whether GetItem, Query and Scan return the item ``pk = "job"``."""
    ddb = cloud.client("dynamodb")
    key = {"pk": {"S": "job"}}
    return {
        "get": "Item" in ddb.get_item(TableName=table, Key=key, ConsistentRead=True),
        "query": bool(ddb.query(TableName=table, KeyConditionExpression="pk = :k",
                                ExpressionAttributeValues={":k": {"S": "job"}})["Items"]),
        "scan": bool(ddb.scan(TableName=table)["Items"]),
    }


def test_an_expired_item_is_read_until_the_ttl_process_deletes_it_later(
        cloud: RunningCloud, tables: list[str]) -> None:
    """"DynamoDB typically deletes expired items within two days of expiration ... Items that
    have expired and not been deleted will still show up in reads, queries, and scans."
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html
    The deletion lag is pure waiting (simulated time); one table gets a short lag through
    /_sim/dynamodb-ttl, the other keeps the default.
    """
    ddb = cloud.client("dynamodb")
    short, default = ttl_table(cloud, tables), ttl_table(cloud, tables)
    cloud.control("/dynamodb-ttl", {"table": short, "lag_seconds": LAG})
    now = float(cloud.status()["simulated_now"])
    expired_at = int(now) - 60
    for table in (short, default):
        ddb.put_item(TableName=table, Item={"pk": {"S": "job"},
                                            "expires_at": {"N": str(expired_at)}})

    # Several sweeps (every 30 simulated s) have seen the expired items: still there.
    first = ttl_status(cloud)["sweeps"]
    wait_for(lambda: ttl_status(cloud)["sweeps"] >= first + 3, timeout=30)
    assert reads(cloud, short) == reads(cloud, default) == {"get": True, "query": True,
                                                            "scan": True}

    # Deleted once expired for the lag, not before.
    wait_for(lambda: not reads(cloud, short)["get"], timeout=90, interval=0.5)
    gone_at = float(cloud.status()["simulated_now"])
    assert gone_at >= expired_at + LAG
    assert reads(cloud, short) == {"get": False, "query": False, "scan": False}
    status = ttl_status(cloud)
    assert status["deleted"].get(short) == 1
    assert status["deletion_lag_seconds"] >= 86400  # the default: AWS's "within two days"
    assert reads(cloud, default)["get"]  # 10 simulated minutes expired: not deleted yet
