"""Delete a table's expired items, as DynamoDB's TTL process does.

An item expires when its TTL attribute is a number of epoch seconds below "now". Like AWS, a
value more than five years in the past is ignored (it is taken for a mistake), and a non-number
attribute never expires. AWS deletes an expired item later, "typically within two days of
expiration", and until then "items that have expired and not been deleted will still show up
in reads, queries, and scans"
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html):
an item is deleted only once it has been expired for ``lag`` seconds. The delete is
conditional on the value read, so an item whose TTL was pushed back meanwhile survives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

FIVE_YEARS = 5 * 365 * 86400


def ttl_value(item: dict[str, Any], attribute: str) -> float | None:
    value = item.get(attribute, {})
    if "N" not in value:
        return None
    try:
        return float(value["N"])
    except ValueError:
        return None


def due(item: dict[str, Any], attribute: str, now: float, lag: float = 0.0,
        to_now_clock: Callable[[float], float] | None = None) -> bool:
    """Expired for at least ``lag`` seconds. ``to_now_clock`` maps a stored value written on
    another clock onto the clock of ``now`` (see the part's wall-clock tables)."""
    ts = ttl_value(item, attribute)
    return ts is not None and verdict(ts, now, lag, to_now_clock) == "due"


def verdict(ts: float, now: float, lag: float = 0.0,
            to_now_clock: Callable[[float], float] | None = None) -> str:
    """"due", "never" (over five years old: taken for a mistake) or "later". Rising with
    ``ts`` (the clock mapping is increasing), so a walk in ascending order can stop at the
    first "later"."""
    if to_now_clock is not None:
        ts = to_now_clock(ts)
    if ts < now - FIVE_YEARS:
        return "never"
    return "due" if ts + lag < now else "later"


def sweep_table(client: Any, table: str, attribute: str, key_names: list[str],
                now: float, lag: float = 0.0,
                to_now_clock: Callable[[float], float] | None = None) -> int:
    """Delete the items of ``table`` expired for ``lag`` seconds, found with a Scan; returns
    how many."""
    names = {f"#k{i}": k for i, k in enumerate(key_names)} | {"#ttl": attribute}
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": ",".join(names),
                              "ExpressionAttributeNames": names}
    if to_now_clock is None:
        # Only the items due come back (``due`` still decides): a sweep no longer carries
        # every item of the table to this process, though DynamoDB still reads them all.
        # (attribute_type first: moto fails comparing a string with a number; AWS says false)
        kwargs["FilterExpression"] = ("attribute_type(#ttl, :number) AND #ttl < :due "
                                      "AND #ttl >= :oldest")
        kwargs["ExpressionAttributeValues"] = {":number": {"S": "N"},
                                               ":due": {"N": repr(now - lag)},
                                               ":oldest": {"N": repr(now - FIVE_YEARS)}}
    deleted = 0
    while True:
        page = client.scan(**kwargs)
        deleted += delete_expired(client, table, attribute, key_names,
                                  [i for i in page.get("Items", [])
                                   if due(i, attribute, now, lag, to_now_clock)])
        if "LastEvaluatedKey" not in page:
            return deleted
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_expired(client: Any, table: str, attribute: str, key_names: list[str],
                   items: list[dict[str, Any]]) -> int:
    """DeleteItem of each, conditional on the TTL value read: an item whose TTL was pushed
    back meanwhile survives. Returns how many were deleted."""
    deleted = 0
    for item in items:
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
    return deleted
