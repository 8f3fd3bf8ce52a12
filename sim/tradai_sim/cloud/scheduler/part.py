"""The scheduler part: one thread that re-reads the EventBridge rules and the EventBridge
Scheduler schedules and fires the due ones, on the simulated clock."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.scheduler import moto_hooks
from tradai_sim.cloud.scheduler.dispatch import Dispatcher
from tradai_sim.cloud.scheduler.event import iso_z, scheduled_event, target_input
from tradai_sim.cloud.scheduler.rules import RuleBook, RuleClock
from tradai_sim.cloud.scheduler.schedules import ScheduleBook, ScheduleClock
from tradai_sim.cloud.scheduler.targets import MISSING, TargetDelivery

log = logging.getLogger(__name__)

SYNC_WALL_SECONDS = 0.5  # how often rules are re-read: rules added/disabled at run time


class SchedulerPart:
    name = "scheduler"

    def __init__(self, ctx: CloudContext, invoker: Any) -> None:
        self.ctx = ctx
        self.book = RuleBook()
        self.schedules = ScheduleBook()
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
                due_schedules = self.schedules.due(now)
            for rule in due:
                self._fire(rule, now)
            for schedule in due_schedules:
                self._fire_schedule(schedule, now)
            with self._lock:
                times = [t for t in (self.book.next_fire(), self.schedules.next_fire())
                         if t is not None]
                upcoming = min(times) if times else None
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
        self._sync_schedules()

    def _sync_schedules(self) -> None:
        scheduler = self.ctx.client("scheduler")
        try:
            listed = [s for page in scheduler.get_paginator("list_schedules").paginate()
                      for s in page["Schedules"]]

            def fetch(group: str, name: str) -> dict[str, Any]:
                return dict(scheduler.get_schedule(GroupName=group, Name=name))

            with self._lock:
                self.schedules.sync(listed, fetch, self.ctx.clock.now())
        except Exception:  # emulator busy, or a schedule deleted mid-sync: next round
            self.sync_errors += 1
            log.exception("reading EventBridge Scheduler schedules failed")

    def _fire_schedule(self, schedule: ScheduleClock, now: float) -> None:
        """Invoke the schedule's target with its Input (context attributes filled in)."""
        assert schedule.tick is not None
        target = schedule.spec.get("Target", {})
        execution = str(uuid.uuid4())
        text = str(target.get("Input", "{}"))
        for key, value in (("schedule-arn", schedule.arn), ("execution-id", execution),
                           ("scheduled-time", iso_z(schedule.tick)), ("attempt-number", "1")):
            text = text.replace(f"<aws.scheduler.{key}>", value)
        payload: Any = text
        if ":sqs:" not in str(target.get("Arn", "")):
            with contextlib.suppress(ValueError):  # plain text stays a string
                payload = json.loads(text)
        extra = {"SCHEDULED_TIME": iso_z(schedule.tick), "EXECUTION_ID": execution,
                 "IS_PAYLOAD_TRUNCATED": "false"}
        outcome = self.dispatch.send(schedule.arn, target, payload, text,
                                     source_key="SCHEDULE_ARN", extra=extra)
        with self._lock:
            schedule.outcomes[outcome] = schedule.outcomes.get(outcome, 0) + 1
            self.schedules.fired(schedule, now)
            finished = schedule.tick is None
        log.info("schedule %s/%s fired (tick %s): %s", schedule.group, schedule.name,
                 iso_z(schedule.last_tick or now), outcome)
        if finished and schedule.spec.get("ActionAfterCompletion") == "DELETE":
            try:  # a one-time schedule that has run its last invocation deletes itself
                self.ctx.client("scheduler").delete_schedule(GroupName=schedule.group,
                                                             Name=schedule.name)
            except Exception as exc:
                log.info("deleting completed schedule %s failed: %s", schedule.name, exc)

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
                "schedules": {f"{s.group}/{s.name}": {
                    "expression": s.spec.get("ScheduleExpression"), "error": s.error,
                    "count": s.count, "next_tick": s.tick, "next_fire": s.fire_at,
                    "last_tick": s.last_tick, "targets": dict(s.outcomes),
                } for s in self.schedules.schedules.values()},
            }


def make_part(ctx: CloudContext, invoker: Any) -> SchedulerPart:
    return SchedulerPart(ctx, invoker)
