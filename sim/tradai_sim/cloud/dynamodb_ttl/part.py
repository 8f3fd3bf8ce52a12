"""The TTL part: every ``SWEEP_SECONDS`` of simulated time, sweep each table with TTL enabled,
deleting the items expired for longer than the deletion lag (``settings``); ``/_sim/dynamodb-ttl``
shows and changes the lag."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.dynamodb_ttl.settings import (
    WALL_CLOCK_LOGICAL_TABLES,
    BadSetting,
    TtlSettings,
    lag_from_env,
)
from tradai_sim.cloud.dynamodb_ttl.sweeper import sweep_table

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # simulated: how often expired items are looked for


class DynamoDbTtlPart:
    name = "dynamodb-ttl"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._keys: dict[str, list[str]] = {}
        self.deleted: dict[str, int] = {}
        self.ttl_tables: dict[str, str] = {}
        self.sweeps = 0
        self.last_sweep: float | None = None
        self.errors: list[str] = []
        self.settings = TtlSettings(
            default_lag=lag_from_env(),
            wall_clock_tables=frozenset(ctx.name(t) for t in WALL_CLOCK_LOGICAL_TABLES))
        ctx.control_routes["/dynamodb-ttl"] = self.route

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dynamodb-ttl", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not (self._stop.is_set() or self.ctx.stopping.is_set()):
            try:
                self.sweep()
            except Exception as exc:  # emulator busy or stopping: the next sweep retries
                log.exception("TTL sweep failed")
                self.errors = [*self.errors, f"{type(exc).__name__}: {exc}"][-5:]
            self.ctx.clock.wait(self._stop, SWEEP_SECONDS)

    def sweep(self) -> None:
        ddb = self.ctx.client("dynamodb")
        now = self.ctx.clock.now()
        tables = [t for page in ddb.get_paginator("list_tables").paginate()
                  for t in page["TableNames"]]
        enabled = {}
        for table in tables:
            try:
                ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
                if ttl.get("TimeToLiveStatus") != "ENABLED":
                    continue
                enabled[table] = ttl["AttributeName"]
                n = sweep_table(ddb, table, ttl["AttributeName"], self._key_names(table), now,
                                self.settings.lag(table), self._value_clock(table))
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    self._keys.pop(table, None)  # deleted while we swept
                    continue
                raise
            if n:
                self.deleted[table] = self.deleted.get(table, 0) + n
                log.info("TTL deleted %d expired items from %s", n, table)
        self.ttl_tables = enabled
        self.sweeps += 1
        self.last_sweep = now

    def _value_clock(self, table: str) -> Callable[[float], float] | None:
        """Maps a wall-clock table's TTL value onto the simulated clock."""
        if table not in self.settings.wall_clock_tables:
            return None
        clock = self.ctx.clock
        return lambda wall_ts: clock.origin + (wall_ts - clock.origin) * clock.scale

    def route(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("method") == "POST":
            try:
                self.settings.update(body)
            except BadSetting as exc:
                return 400, {"error": str(exc)}
        return 200, self.status()

    def _key_names(self, table: str) -> list[str]:
        if table not in self._keys:
            schema = self.ctx.client("dynamodb").describe_table(TableName=table)["Table"][
                "KeySchema"]
            self._keys[table] = [k["AttributeName"] for k in schema]
        return self._keys[table]

    def status(self) -> dict[str, Any]:
        return {"sweep_seconds": SWEEP_SECONDS, **self.settings.view(), "sweeps": self.sweeps,
                "last_sweep": self.last_sweep, "ttl_tables": dict(self.ttl_tables),
                "deleted": dict(self.deleted), "errors": list(self.errors)}


def make_part(ctx: CloudContext, invoker: Any) -> DynamoDbTtlPart:
    return DynamoDbTtlPart(ctx)
