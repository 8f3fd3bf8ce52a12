"""Backtest slots: the strategy-task limit as a conditional lease in DynamoDB.

The ``backtest-slots`` table (topology spec) holds at most ``size`` items of one pool, keyed
``slot`` "0" .. "size-1"; an item is a slot held by a job (``holder``, its execution's ARN,
``acquired_at`` on the platform clock). A missing item is a free slot.

* **acquire**: one consistent Query reads the pool; a job that already holds a slot gets it
  back (its lease is renewed); otherwise a PutItem conditioned on the slot not existing takes a
  free one. DynamoDB applies writes to one item one at a time, so two consumers that both saw
  a free slot cannot both take it: the limit holds however many invocations run at once.
* **reclaim**, only when every slot is held: holders' executions are described, oldest
  lease first, until one is dead (one DescribeExecution per held slot at most, whatever
  the history; exactly ``size`` when all are alive, the cost of a deferral). A holder whose
  execution is no longer RUNNING (finished, stopped, aborted, timed out) loses its slot,
  and so does one whose execution does not exist ``grace_seconds`` after it took the slot
  (the consumer crashed between the two). The delete is conditioned on the same holder and
  lease time, so a renewed or already reclaimed slot is left alone.
* **release**: the workflow's final status write (update-status, on success and on every
  failure path) and the orphan scanner delete the job's slot, conditioned on the holder.

One acquire of a free slot costs one Query of at most ``size`` small items and one write,
whatever the workflow's history (``benchmarks/bench_slots.py``); the count it replaces was a
paginated ListExecutions per message, an API Step Functions throttles per account
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tradai.clock import Clock
from tradai.workflows.settings import WorkflowSettings

POOL = "backtest"  # the pool's hash key; another pool could share the table
# Names through placeholders: DynamoDB reserves many words
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html).
_SAME_LEASE = "#h = :h AND #t = :t"
_LEASE_NAMES = {"#h": "holder", "#t": "acquired_at"}


@dataclass(frozen=True)
class Slot:
    index: int
    holder: str
    execution_arn: str
    acquired_at: Decimal  # as stored: the conditions compare it exactly


class SlotLease:
    def __init__(self, ddb: Any, table: str, size: int, clock: Clock, sfn: Any = None,
                 grace_seconds: float = 0.0) -> None:
        """``grace_seconds`` (platform clock): how long a slot whose execution does not exist
        yet is kept for its holder (longer than the consumer may take to start it)."""
        if size < 1:
            raise ValueError(f"a slot pool needs at least one slot, got {size}")
        self.ddb = ddb
        self.table = table
        self.size = size
        self.clock = clock
        self.sfn = sfn
        self.grace_seconds = grace_seconds

    def held(self) -> dict[int, Slot]:
        """Every held slot by index (one consistent Query; the pool is at most ``size``
        items, plus any left from a larger limit)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "#p = :p", "ExpressionAttributeNames": {"#p": "pool"},
            "ExpressionAttributeValues": {":p": {"S": POOL}},
        }
        slots: dict[int, Slot] = {}
        while True:
            page = self.ddb.query(**kwargs)
            for item in page.get("Items", []):
                slot = _slot(item)
                slots[slot.index] = slot
            if "LastEvaluatedKey" not in page:
                return slots
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def acquire(self, job_id: str, execution_arn: str) -> int | None:
        """The slot ``job_id`` holds (taken now or before), or None when every slot is held
        by a live execution."""
        for _ in range(self.size + 2):  # each round lost means another job took a slot
            held = self.held()
            mine = next((s for s in held.values() if s.holder == job_id), None)
            if mine is not None:
                if self._renew(mine):
                    return mine.index
                continue  # reclaimed meanwhile: take another
            free = [i for i in range(self.size) if i not in held]
            if len(held) >= self.size or not free:  # slots past a lowered limit count too
                # Oldest first, and one is enough: a dead holder is most likely an old one.
                if not self._reclaim(sorted(held.values(), key=lambda s: s.acquired_at),
                                     first=True):
                    return None
                continue  # read the pool again: is a slot below the limit free now?
            random.shuffle(free)  # concurrent acquirers spread instead of racing for slot 0
            for index in free:
                if self._take(index, job_id, execution_arn):
                    return index
        return None

    def release(self, job_id: str) -> list[int]:
        """Free every slot ``job_id`` holds; the indices freed."""
        freed = []
        for slot in self.held().values():
            if slot.holder == job_id and self._delete(slot):
                freed.append(slot.index)
        return freed

    def sweep(self) -> list[int]:
        """Free the slots of dead holders (the orphan scanner; acquire does it when full)."""
        return self._reclaim(self.held().values())

    # -- internals --------------------------------------------------------------------------
    def _dead(self, slot: Slot) -> bool:
        """Its execution is not RUNNING, or still missing after the grace period."""
        try:
            status = self.sfn.describe_execution(executionArn=slot.execution_arn)["status"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
            return self.clock.now() - float(slot.acquired_at) > self.grace_seconds
        return status != "RUNNING"

    def _reclaim(self, slots: Any, first: bool = False) -> list[int]:
        if self.sfn is None:
            raise RuntimeError("reclaiming slots needs a Step Functions client")
        freed = []
        for slot in slots:
            if self._dead(slot) and self._delete(slot):
                freed.append(slot.index)
                if first:
                    break
        return freed

    def _take(self, index: int, job_id: str, execution_arn: str) -> bool:
        return self._conditional(self.ddb.put_item, Item={
            "pool": {"S": POOL}, "slot": {"S": str(index)}, "holder": {"S": job_id},
            "execution_arn": {"S": execution_arn}, "acquired_at": {"N": _now(self.clock)},
        }, ConditionExpression="attribute_not_exists(#k)", ExpressionAttributeNames={"#k": "slot"})

    def _renew(self, slot: Slot) -> bool:
        """A redelivered job restarts its grace period: its consumer may still be about to
        start the execution, so the slot must not be reclaimed under it."""
        return self._conditional(
            self.ddb.update_item, Key=_key(slot.index), UpdateExpression="SET #t = :n",
            ConditionExpression=_SAME_LEASE, ExpressionAttributeNames=_LEASE_NAMES,
            ExpressionAttributeValues={":n": {"N": _now(self.clock)}, ":h": {"S": slot.holder},
                                       ":t": {"N": str(slot.acquired_at)}})

    def _delete(self, slot: Slot) -> bool:
        return self._conditional(
            self.ddb.delete_item, Key=_key(slot.index),
            ConditionExpression=_SAME_LEASE, ExpressionAttributeNames=_LEASE_NAMES,
            ExpressionAttributeValues={":h": {"S": slot.holder},
                                       ":t": {"N": str(slot.acquired_at)}})

    def _conditional(self, call: Any, **kwargs: Any) -> bool:
        try:
            call(TableName=self.table, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _key(index: int) -> dict[str, Any]:
    return {"pool": {"S": POOL}, "slot": {"S": str(index)}}


def _now(clock: Clock) -> str:
    return f"{clock.now():.6f}"


def _slot(item: dict[str, Any]) -> Slot:
    return Slot(index=int(item["slot"]["S"]), holder=item["holder"]["S"],
                execution_arn=item["execution_arn"]["S"],
                acquired_at=Decimal(item["acquired_at"]["N"]))


def lease_from(settings: WorkflowSettings, ddb: Any, clock: Clock, sfn: Any = None
               ) -> SlotLease:
    """The backtest pool as deployed: the spec's limit (or its override), the grace period
    on the platform clock."""
    return SlotLease(ddb, settings.slots, settings.max_concurrent, clock, sfn,
                     grace_seconds=clock.to_sim(settings.slot_grace_wall_seconds))
