"""Delete a table's expired items, as DynamoDB's TTL process does.

An item expires when its TTL attribute is a number of epoch seconds below "now". Like AWS, a
value more than five years in the past is ignored (it is taken for a mistake), and a non-number
attribute never expires. The delete is conditional on the value read, so an item whose TTL was
pushed back meanwhile survives.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

FIVE_YEARS = 5 * 365 * 86400


def expired(item: dict[str, Any], attribute: str, now: float) -> bool:
    value = item.get(attribute, {})
    if "N" not in value:
        return False
    try:
        ts = float(value["N"])
    except ValueError:
        return False
    return now - FIVE_YEARS <= ts < now


def sweep_table(client: Any, table: str, attribute: str, key_names: list[str],
                now: float) -> int:
    """Delete the expired items of ``table``; returns how many were deleted."""
    names = {f"#k{i}": k for i, k in enumerate(key_names)} | {"#ttl": attribute}
    deleted = 0
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": ",".join(names),
                              "ExpressionAttributeNames": names}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            if not expired(item, attribute, now):
                continue
            try:
                client.delete_item(
                    TableName=table, Key={k: item[k] for k in key_names},
                    ConditionExpression="#ttl = :seen",
                    ExpressionAttributeNames={"#ttl": attribute},
                    ExpressionAttributeValues={":seen": item[attribute]})
                deleted += 1
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        if "LastEvaluatedKey" not in page:
            return deleted
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
