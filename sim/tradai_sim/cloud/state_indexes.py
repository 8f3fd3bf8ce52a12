"""Indexes in moto, so a request costs what it costs on AWS, not more as state piles up.

- DynamoDB Query: moto reads (and sorts) every item of the table for each Query, on the table
  or on a GSI, then keeps the ones whose key matches; on AWS a Query reads only the items of
  its partition (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html).
  Here a Query on the table reads its partition, and a Query on a GSI reads the items an index
  kept per value of the GSI's hash key gives; moto's own code then runs over those items
  unchanged (key checks, sort, pagination, filter). The index is updated by every path that
  changes an item: ``Table.put_item`` and ``Table.delete_item`` (PutItem, batches, PartiQL,
  transactions, the TTL sweeper's deletes, UpdateItem of a missing item) and
  ``DynamoDBBackend.update_item`` (which changes an item in place). It is built for a hash
  attribute on its first Query, and lives on the table object, so a table that a failed
  transaction puts back (moto restores a deep copy) has the index of its items.
- DynamoDB TTL: the TTL part looked for expired items with a Scan, which reads every item of
  the table each sweep (a filter only trims what comes back). Here each swept table keeps a
  heap of its items' TTL values, kept by the same write paths; a sweep reads only the items due
  (and entries left stale by a write, each once). The deletes still go through DeleteItem.
- ECS: moto keeps every task it ever ran, and ListTasks and DescribeTasks walk all of them; ECS
  shows a stopped task for about an hour
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html: "stopped
  tasks appear in the returned results for at least one hour"). Each RunTask forgets the oldest
  stopped tasks of its cluster beyond the newest ``KEEP_STOPPED``, the count the ECS runtime
  keeps for ``status``.

Installed by ``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any, Literal

from tradai_sim.cloud.ecs.runtime import KEEP_STOPPED

_BY_VALUE = "_tradai_gsi_by_value"  # {attr: {value: {primary key: None}}}
_VALUE_OF = "_tradai_gsi_value_of"  # {attr: {primary key: value}}
_TTL_HEAPS = "_tradai_ttl_heaps"  # {attr: [(number, tick, primary key)]}, stale entries lazily
_ticks = itertools.count()
# One lock for every table: the index is small work next to the request, and a lock stored on
# the table would break the deep copy a transaction takes.
_lock = threading.RLock()
_scope = threading.local()  # the items this thread's Query may read, while it runs


# -- DynamoDB -----------------------------------------------------------------------------------
def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    part = table.items.get(hash_key)  # .get: items is a defaultdict
    if part is None or not table.range_key_attr:
        return part
    return part.get(range_key)


def _reindex(table: Any, hash_key: Any, range_key: Any) -> None:
    # Under the lock from the first look: an index being built (``_index``) either saw this
    # write in its pass over the items or is complete when this runs, never neither.
    with _lock:
        by_value: dict[str, dict[Any, dict[Any, None]]] = table.__dict__.get(_BY_VALUE) or {}
        if not by_value:
            return
        pk = (hash_key, range_key if table.range_key_attr else None)
        item = _stored(table, hash_key, range_key)
        value_of = table.__dict__[_VALUE_OF]
        for attr, values in by_value.items():
            old = value_of[attr].pop(pk, None)
            if old is not None:
                keys = values.get(old)
                if keys is not None:
                    keys.pop(pk, None)
                    if not keys:
                        del values[old]
            new = item.attrs.get(attr) if item is not None else None
            if new is not None and _hashable(new):
                values.setdefault(new, {})[pk] = None
                value_of[attr][pk] = new
                heap = (table.__dict__.get(_TTL_HEAPS) or {}).get(attr)
                if heap is not None and (number := _number(new)) is not None:
                    heapq.heappush(heap, (number, next(_ticks), pk))


def _number(value: Any) -> float | None:
    if getattr(value, "type", None) != "N":
        return None
    try:
        return float(value.value)
    except (TypeError, ValueError):
        return None


Verdict = Literal["due", "never", "later"]


def due_items(table: Any, attr: str, verdict: Callable[[float], Verdict]
              ) -> list[tuple[Any, Any]]:
    """(primary key, stored value) of the items whose number ``attr`` is due, read in
    ascending order from the table's heap of values: ``verdict`` says of a value whether it is
    due, never will be (the five-year rule: passed over for good) or not yet (it and every
    larger value: the walk stops). Due entries stay in the heap; a delete makes them stale."""
    with _lock:
        _index(table, attr)  # follows attr's value of every item from now on
        value_of = table.__dict__[_VALUE_OF][attr]
        heaps = table.__dict__.setdefault(_TTL_HEAPS, {})
        if attr not in heaps:
            heap = [(n, next(_ticks), pk) for pk, v in value_of.items()
                    if (n := _number(v)) is not None]
            heapq.heapify(heap)
            heaps[attr] = heap
        heap = heaps[attr]
        due: list[tuple[float, int, Any]] = []
        while heap:
            number, _, pk = entry = heap[0]
            current = value_of.get(pk)
            if current is None or _number(current) != number:
                heapq.heappop(heap)  # deleted, or its value changed (pushed again then)
                continue
            said = verdict(number)
            if said == "later":
                break
            heapq.heappop(heap)
            if said == "due":
                due.append(entry)
        for entry in due:  # kept until a delete (or a change) makes them stale
            heapq.heappush(heap, entry)
        return [(pk, value_of[pk]) for _, _, pk in due]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False  # a list or map: never a key attribute's value
    return True


def _index(table: Any, attr: str) -> dict[Any, dict[Any, None]]:
    """The table's items by value of ``attr``; built on first use (one pass)."""
    with _lock:
        by_value = table.__dict__.setdefault(_BY_VALUE, {})
        value_of = table.__dict__.setdefault(_VALUE_OF, {})
        if attr not in by_value:
            values: dict[Any, dict[Any, None]] = {}
            where: dict[Any, Any] = {}
            for item in _unscoped_items(table):
                value = item.attrs.get(attr)
                if value is not None and _hashable(value):
                    pk = (item.hash_key, item.range_key if table.range_key_attr else None)
                    values.setdefault(value, {})[pk] = None
                    where[pk] = value
            by_value[attr], value_of[attr] = values, where
        return by_value[attr]


def _unscoped_items(table: Any) -> list[Any]:
    out: list[Any] = []
    for part in list(table.items.values()):
        out.extend(list(part.values()) if table.range_key_attr else [part])
    return out


def _candidates(table: Any, hash_key: Any, index_name: str | None,
                hash_conditions: list[tuple[str, Any]] | None) -> list[Any] | None:
    """The items a Query can match, or None when moto's full pass must decide."""
    if index_name is None:
        if hash_key is None:
            return None
        part = table.items.get(hash_key)
        if part is None:
            return []
        return list(part.values()) if table.range_key_attr else [part]
    gsi = next((i for i in table.global_indexes or [] if i.name == index_name), None)
    if gsi is None or not hash_conditions or len(hash_conditions) != 1:
        return None
    hashes = [k["AttributeName"] for k in gsi.schema if k["KeyType"] == "HASH"]
    attr, value = hash_conditions[0]
    if hashes != [attr] or not _hashable(value):
        return None
    with _lock:
        keys = list(_index(table, attr).get(value, {}))
    found = (_stored(table, h, r) for h, r in keys)
    return [item for item in found if item is not None]


def table_query(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``Table.query``: moto's query over the candidate items only."""

    def query(self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any,
              exclusive_start_key: Any, scan_index_forward: Any, projection_expressions: Any,
              index_name: str | None = None, consistent_read: bool = False,
              filter_expression: Any = None, hash_key_conditions: Any = None,
              range_key_conditions: Any = None, **filter_kwargs: Any) -> Any:
        args = (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                scan_index_forward, projection_expressions, index_name, consistent_read,
                filter_expression)
        kwargs = {"hash_key_conditions": hash_key_conditions,
                  "range_key_conditions": range_key_conditions, **filter_kwargs}
        items = _candidates(self, hash_key, index_name, hash_key_conditions)
        if items is None:
            return original(*args, **kwargs)
        _scope.table, _scope.items = self, items
        try:
            return original(*args, **kwargs)
        finally:
            _scope.table = _scope.items = None

    return query


def table_all_items(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``Table.all_items``: inside a narrowed Query, only that Query's candidates."""

    def all_items(self: Any) -> list[Any]:
        if getattr(_scope, "table", None) is not self:
            return list(original(self))
        return sorted(_scope.items, key=lambda x: (x.hash_key, x.range_key)
                      if x.range_key else x.hash_key)

    return all_items


def table_put_item(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        _reindex(self, item.hash_key, item.range_key)
        return item

    return put_item


def table_delete_item(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original(self, hash_key, range_key)
        finally:
            _reindex(self, hash_key, range_key)

    return delete_item


def backend_update_item(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``DynamoDBBackend.update_item``, which changes the stored item in place."""

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any,
                    **kwargs: Any) -> Any:
        try:
            return original(self, table_name, key, *args, **kwargs)
        finally:
            from moto.dynamodb.models.dynamo_type import DynamoType

            table = self.tables.get(table_name)
            if table is not None and table.hash_key_attr in key:
                rng = key.get(table.range_key_attr) if table.range_key_attr else None
                _reindex(table, DynamoType(key[table.hash_key_attr]),
                         DynamoType(rng) if rng is not None else None)

    return update_item


# -- ECS ------------------------------------------------------------------------------------------
def ecs_run_task(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps ``EC2ContainerServiceBackend.run_task``: forget old stopped tasks of the cluster."""

    def run_task(self: Any, cluster_str: str, *args: Any, **kwargs: Any) -> Any:
        tasks = original(self, cluster_str, *args, **kwargs)
        forget_stopped(self, cluster_str, KEEP_STOPPED)
        return tasks

    return run_task


def forget_stopped(backend: Any, cluster_str: str, keep: int) -> None:
    cluster = cluster_str.rsplit("/", 1)[-1]
    tasks = backend.tasks.get(cluster)  # by task ARN, in the order RunTask added them
    if not tasks:
        return
    stopped = [arn for arn, t in list(tasks.items()) if t.last_status == "STOPPED"]
    for arn in stopped[:max(len(stopped) - keep, 0)]:  # oldest first: moto keeps run order
        tasks.pop(arn, None)
