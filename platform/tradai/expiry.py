"""Reading tables with a TTL: an expired item is gone, whether or not DynamoDB deleted it yet.

DynamoDB deletes expired items "typically within two days of expiration"; until then "items
that have expired and not been deleted will still show up in reads, queries, and scans"
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html).
AWS's advice is to filter them out, items whose TTL is at or before now included
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html).
"now" is the platform clock (``tradai.clock``), the clock the TTL values were written with.
"""

from __future__ import annotations

from typing import Any

TTL_ATTRIBUTE = "ttl"


def is_expired(item: dict[str, Any], now: float, attribute: str = TTL_ATTRIBUTE) -> bool:
    """``item`` as plain values (deserialised); an item without a numeric TTL never expires."""
    value = item.get(attribute)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return value <= now


def live(items: list[dict[str, Any]], now: float,
         attribute: str = TTL_ATTRIBUTE) -> list[dict[str, Any]]:
    return [i for i in items if not is_expired(i, now, attribute)]


def not_expired_condition(now: float, attribute: str = TTL_ATTRIBUTE,
                          names: str = "#ttl", value: str = ":now") -> tuple[str, dict[str, str],
                                                                           dict[str, Any]]:
    """A filter (or condition) expression keeping items that are not expired: expression,
    ExpressionAttributeNames and ExpressionAttributeValues to merge into a request."""
    return (f"(attribute_not_exists({names}) OR {names} > {value})", {names: attribute},
            {value: {"N": str(int(now))}})
