"""moto's RDS answers a made-up endpoint (``<id>.aaaaaaaaaa.<region>.rds.amazonaws.com``); the
local instance's is a real server on 127.0.0.1. ``DBInstance.address`` (moto_patches) answers
the address the RDS part registered here, so ``DescribeDBInstances`` gives ``Endpoint.Address``
/ ``Endpoint.Port`` a client can connect to, as on AWS
(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Endpoint.html)."""

from __future__ import annotations

import sys
from typing import Any

# DB instance identifier -> the address its server listens on
ENDPOINTS: dict[str, str] = {}


class _Property(property):
    """A property that can carry the patch bookkeeping attributes (plain ones cannot)."""


def db_instance_address(original: property) -> property:
    def address(self: Any) -> str:
        found = ENDPOINTS.get(self.db_instance_identifier)
        return found if found is not None else str(original.fget(self))  # type: ignore[misc]

    return _Property(address)


def set_status(account_id: str, region: str, identifier: str, status: str) -> None:
    """``DBInstanceStatus`` as RDS reports it while the instance stops and starts."""
    models = sys.modules.get("moto.rds.models")
    if models is None:  # no emulator in this process (nothing describes the instance)
        return
    db = models.rds_backends[account_id][region].databases.get(identifier)
    if db is not None:
        db.status = status
