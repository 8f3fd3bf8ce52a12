"""Ticket identity: which submissions are "the same", and the ids SQS deduplicates on.

A ticket id is derived, not random, so a duplicate finds its ticket with one read and a
conditional put makes concurrent duplicates race-safe:

* with an ``Idempotency-Key``: uuid5(owner, key) - the same key always means the same ticket
  (for as long as the ticket lives, the table's TTL);
* without one: uuid5(owner, canonical request, window) where windows are 5-minute slices of the
  shared clock; the previous slice's ticket counts too if it is younger than 5 minutes, which
  makes the window sliding, as SQS's own deduplication interval is.

The SQS MessageDeduplicationId is a hash of the ticket identity: one ticket has one dedup id,
so SQS can drop a repeated send of the same ticket but never the only message of another one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

DEDUP_WINDOW_SECONDS = 300  # SQS FIFO's deduplication interval
_NAMESPACE = uuid.UUID("6f1c3e0a-5b7d-4c52-9a51-2d1b7f0e8a11")  # fixed: ids must be stable
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class TicketKey:
    job_id: str
    dedup_id: str  # SQS MessageDeduplicationId (<= 128 chars)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _key(material: str) -> TicketKey:
    return TicketKey(job_id=str(uuid.uuid5(_NAMESPACE, material)),
                     dedup_id=hashlib.sha256(material.encode()).hexdigest())


def by_idempotency_key(owner: str, key: str) -> TicketKey:
    return _key(f"key\n{owner}\n{key}")


def by_content(owner: str, canonical_request: dict[str, Any], now: float) -> list[TicketKey]:
    """Current window's key first, then the previous window's (checked for age by the caller)."""
    window = int(now // DEDUP_WINDOW_SECONDS)
    body = canonical_json(canonical_request)
    return [_key(f"content\n{owner}\n{body}\n{w}") for w in (window, window - 1)]


def request_fingerprint(canonical_request: dict[str, Any]) -> str:
    """Stored with the ticket: a reused key with a different body is refused."""
    return hashlib.sha256(canonical_json(canonical_request).encode()).hexdigest()


def check_idempotency_key(key: str) -> str | None:
    """Reason the header value is unusable, or None."""
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        return f"must be 1-{MAX_IDEMPOTENCY_KEY} characters"
    if not all(33 <= ord(c) <= 126 for c in key):
        return "must be printable ASCII without spaces"
    return None
