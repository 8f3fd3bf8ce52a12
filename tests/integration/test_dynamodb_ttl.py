"""DynamoDB TTL: items whose TTL lies in the simulated past are deleted, others are kept."""

from __future__ import annotations

from tests.integration.cloud import RunningCloud, wait_for


def test_expired_items_are_deleted_and_live_ones_kept(cloud: RunningCloud) -> None:
    ddb = cloud.client("dynamodb")
    ddb.create_table(TableName="t-ttl", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.update_time_to_live(TableName="t-ttl", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires_at"})
    # No deletion lag for this table: the default (two simulated days) is for readers.
    cloud.control("/dynamodb-ttl", {"table": "t-ttl", "lag_seconds": 0})
    now = cloud.status()["simulated_now"]
    items = {"past": now - 60, "future": now + 3600, "ancient": now - 6 * 365 * 86400}
    for pk, ts in items.items():
        ddb.put_item(TableName="t-ttl", Item={"pk": {"S": pk}, "expires_at": {"N": str(int(ts))}})
    ddb.put_item(TableName="t-ttl", Item={"pk": {"S": "text"}, "expires_at": {"S": "1"}})

    wait_for(lambda: cloud.status()["parts"]["dynamodb-ttl"]["deleted"].get("t-ttl"), timeout=10)
    left = {i["pk"]["S"] for i in ddb.scan(TableName="t-ttl")["Items"]}
    # AWS ignores TTLs more than five years old and non-number values.
    assert left == {"future", "ancient", "text"}
    assert cloud.status()["parts"]["dynamodb-ttl"]["ttl_tables"]["t-ttl"] == "expires_at"


def test_stack_tables_with_ttl_are_swept(cloud: RunningCloud) -> None:
    status = wait_for(lambda: cloud.status()["parts"]["dynamodb-ttl"]["sweeps"] >= 1 and
                      cloud.status()["parts"]["dynamodb-ttl"])
    assert status["errors"] == []
    assert any(t.startswith(cloud.name("")) for t in status["ttl_tables"])
