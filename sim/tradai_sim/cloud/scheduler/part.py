"""The scheduler part: one thread that re-reads the rules and fires the due ones."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.scheduler import moto_hooks
from tradai_sim.cloud.scheduler.dispatch import Dispatcher
from tradai_sim.cloud.scheduler.event import iso_z, scheduled_event, target_input
from tradai_sim.cloud.scheduler.rules import RuleBook, RuleClock
from tradai_sim.cloud.scheduler.targets import MISSING, TargetDelivery

log = logging.getLogger(__name__)

SYNC_WALL_SECONDS = 0.5  # how often rules are re-read: rules added/disabled at run time


class SchedulerPart:
    name = "scheduler"

    def __init__(self, ctx: CloudContext, invoker: Any) -> None:
        self.ctx = ctx
        self.book = RuleBook()
        self.delivery = TargetDelivery(ctx, invoker)
        self.dispatch = Dispatcher(ctx, self.delivery)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.sync_errors = 0

    def start(self) -> None:
        self.dispatch.start()
        moto_hooks.install(self.dispatch)  # put_events -> Lambda / Step Functions targets
        self._sync()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        moto_hooks.install(None)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.dispatch.stop()

    def _run(self) -> None:
        next_sync = time.time() + SYNC_WALL_SECONDS
        while not (self._stop.is_set() or self.ctx.stopping.is_set()):
            if time.time() >= next_sync:
                self._sync()
                next_sync = time.time() + SYNC_WALL_SECONDS
            now = self.ctx.clock.now()
            with self._lock:
                due = self.book.due(now)
            for rule in due:
                self._fire(rule, now)
            with self._lock:
                upcoming = self.book.next_fire()
            wake = next_sync if upcoming is None else min(
                next_sync, self.ctx.clock.wall_time_of(upcoming))
            self._stop.wait(max(0.0, wake - time.time()))

    def _sync(self) -> None:
        events = self.ctx.client("events")
        try:
            listed = [r for page in events.get_paginator("list_rules").paginate()
                      for r in page["Rules"]]
        except Exception:  # emulator busy or stopping: try again on the next round
            self.sync_errors += 1
            log.exception("reading EventBridge rules failed")
            return
        with self._lock:
            self.book.sync(listed, self.ctx.clock.now())

    def _fire(self, rule: RuleClock, now: float) -> None:
        assert rule.next_fire is not None
        tick = rule.next_fire
        event = scheduled_event(rule.arn, tick, self.ctx.account_id, self.ctx.region)
        try:
            targets = self.ctx.client("events").list_targets_by_rule(Rule=rule.name)["Targets"]
        except Exception as exc:  # rule deleted between sync and tick
            log.info("rule %s vanished before its tick: %s", rule.name, exc)
            targets = []
        missing = []
        for target in targets:
            outcome = self.dispatch.send(rule.arn, target, target_input(target, event), event)
            rule.outcomes[outcome] = rule.outcomes.get(outcome, 0) + 1
            if outcome == MISSING:
                missing.append(target["Arn"])
        with self._lock:
            rule.missing_targets = missing
            rule.last_fire = tick
            rule.count += 1
            rule.advance(now)
        log.info("rule %s fired (tick %s, %d targets)", rule.name, iso_z(tick), len(targets))

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sync_errors": self.sync_errors,
                "delivery": self.dispatch.status(),
                "rules": {r.name: {
                    "expression": r.expression, "state": r.state, "error": r.error,
                    "count": r.count, "last_fire": r.last_fire, "next_fire": r.next_fire,
                    "last_fire_iso": iso_z(r.last_fire) if r.last_fire else None,
                    "next_fire_iso": iso_z(r.next_fire) if r.next_fire else None,
                    "targets": dict(r.outcomes), "missing_targets": list(r.missing_targets),
                } for r in self.book.rules.values()},
            }


def make_part(ctx: CloudContext, invoker: Any) -> SchedulerPart:
    return SchedulerPart(ctx, invoker)
