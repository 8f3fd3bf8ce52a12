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
from tradai_sim.cloud.dynamodb_ttl.sweeper import delete_expired, sweep_table, verdict
from tradai_sim.cloud.state_indexes import due_items

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
                n = self._sweep(ddb, table, ttl["AttributeName"], now)
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

    def _sweep(self, ddb: Any, table: str, attribute: str, now: float) -> int:
        keys, lag = self._key_names(table), self.settings.lag(table)
        clock = self._value_clock(table)
        found = due_in_moto(self.ctx, table, attribute, keys, now, lag, clock)
        if found is None:  # moto not in this process: a Scan finds them
            return sweep_table(ddb, table, attribute, keys, now, lag, clock)
        return delete_expired(ddb, table, attribute, keys, found)

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


def due_in_moto(ctx: CloudContext, table: str, attribute: str, key_names: list[str],
                now: float, lag: float, clock: Callable[[float], float] | None
                ) -> list[dict[str, Any]] | None:
    """The due items (keys and TTL value, as DynamoDB JSON) from the state index's heap of TTL
    values in the emulator (``tradai_sim.cloud.state_indexes``): a sweep reads the items due,
    not the table. None when the emulator's tables are not indexed here."""
    from moto.dynamodb.models import Table, dynamodb_backends

    from tradai_sim.cloud.moto_patches import unpatched

    if unpatched(Table.put_item) is Table.put_item:  # the index's write hooks are not installed
        return None
    try:
        stored = dynamodb_backends[ctx.account_id][ctx.region].get_table(table)
    except Exception:
        return None
    out = []
    for pk, value in due_items(stored, attribute, lambda ts: verdict(ts, now, lag, clock)):
        item = {key_names[0]: pk[0].to_json(), attribute: value.to_json()}
        if len(key_names) > 1:
            item[key_names[1]] = pk[1].to_json()
        out.append(item)
    return out


def make_part(ctx: CloudContext, invoker: Any) -> DynamoDbTtlPart:
    return DynamoDbTtlPart(ctx)
