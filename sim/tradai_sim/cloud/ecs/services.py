"""The ECS service scheduler: keeps each service's desired count of task processes running.

A task that stops is replaced at once: it no longer counts once its desiredStatus is STOPPED,
and the time until the replacement is RUNNING is that task's own start-up. New tasks go to the
AZ with the fewest of the service's tasks, among the AZs that have capacity; a lower desired
count stops the surplus, taken from the most crowded AZ.

Service throttle logic (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
service-throttle-logic.html): when a service's tasks repeatedly stop without ever reaching
RUNNING, the time between launch attempts grows (``THROTTLE_FIRST_SECONDS`` doubling, at most
``THROTTLE_MAX_SECONDS``, simulated: it is waiting) and the service event says it "is unable to
consistently start tasks successfully". A task that reaches RUNNING, or a new task definition,
ends the throttle. Tasks that stop after RUNNING are never throttled.

Load-balanced services (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
API_CreateService.html, healthCheckGracePeriodSeconds): a RUNNING task its target group reports
unhealthy is stopped (ServiceSchedulerInitiated, "Task failed ELB health checks in
(target-group ...)") and replaced, but not before the service's grace period has passed since
the task started. The grace period bounds a task's start-up work (MLflow takes 10-40 wall
seconds here), so it is counted in WALL seconds; the health checks' interval and thresholds
(the ALB stand-in's) are simulated.

A task that cannot be placed (every AZ of the service's subnets unavailable) is an event on the
service, retried after ``PLACEMENT_RETRY_SECONDS``. Availability Zone rebalancing (on by default
for new services, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
service-rebalancing.html): when the tasks are spread unevenly over the available AZs, the
scheduler starts a task in the AZ with the fewest, and once it has run for
``REBALANCE_SETTLE_SECONDS`` stops one in the AZ with the most.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.ecs.elb_health import ElbHealth, unhealthy_reason
from tradai_sim.cloud.ecs.models import (
    RUNNING,
    SERVICE_SCHEDULER_INITIATED,
    STOPPED,
    TASK_FAILED_TO_START,
    TaskRecord,
)
from tradai_sim.cloud.ecs.moto_adapter import MotoServices, ServiceView
from tradai_sim.cloud.ecs.placement import NO_CAPACITY
from tradai_sim.cloud.ecs.runtime import EcsRuntime

log = logging.getLogger(__name__)

POLL_WALL_SECONDS = 0.1  # how soon a desired-count change is noticed
PLACEMENT_RETRY_SECONDS = 10.0  # simulated
REBALANCE_SETTLE_SECONDS = 30.0  # simulated: the new task serves before the old one goes
# Throttle logic: the delay after the n-th consecutive start failure (n >= 2) is
# THROTTLE_FIRST_SECONDS * 2**(n-2), at most AWS's documented maximum of 27 minutes.
THROTTLE_FIRST_SECONDS = 15.0
THROTTLE_MAX_SECONDS = 27 * 60.0
THROTTLED_EVENT = "is unable to consistently start tasks successfully."


@dataclass
class Throttle:
    """A service's streak of tasks that stopped without reaching RUNNING."""

    task_definition: str | None
    failures: int = 0
    next_start: float = 0.0  # simulated time before which no task is launched

    def delay(self) -> float:
        if self.failures < 2:
            return 0.0
        return min(THROTTLE_FIRST_SECONDS * 2 ** (self.failures - 2), THROTTLE_MAX_SECONDS)


class ServiceScheduler:
    name = "ecs-services"

    def __init__(self, ctx: CloudContext, runtime: EcsRuntime, services: MotoServices,
                 health: ElbHealth | None = None) -> None:
        self.ctx = ctx
        self.runtime = runtime
        self.moto = services
        self.health = health or ElbHealth(
            lambda: ctx.resources.get("endpoints", {}).get("alb"))
        self.replacements: list[dict[str, Any]] = []  # for status: when and why
        self.placement_retry: dict[str, float] = {}  # group -> simulated time of next try
        self.rebalancing: dict[str, str] = {}  # group -> the task started to rebalance
        self.throttles: dict[str, Throttle] = {}  # group -> its start-failure streak
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ecs-services", daemon=True)
        self._lock = threading.Lock()
        runtime.listeners.append(self._on_task_change)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _on_task_change(self, record: TaskRecord) -> None:
        if not record.group.startswith("service:"):
            return
        if record.last_status == RUNNING:
            with self._lock:
                self.throttles.pop(record.group, None)  # it starts tasks again
        elif record.last_status == STOPPED:
            if not record.reached_running and record.stop_code == TASK_FAILED_TO_START:
                self._start_failed(record)
            self._wake.set()

    def _start_failed(self, record: TaskRecord) -> None:
        task_definition = getattr(record.handle, "task_definition_arn", None)
        with self._lock:
            t = self.throttles.get(record.group)
            if t is None or t.task_definition != task_definition:
                t = self.throttles[record.group] = Throttle(task_definition)
            t.failures += 1
            t.next_start = self.ctx.clock.now() + t.delay()
            announce = t.failures == 2
        if announce:
            view = next((v for v in self.moto.services() if v.group == record.group), None)
            if view is not None:
                self.moto.add_event(view, THROTTLED_EVENT)
                log.warning("service %s: tasks fail to start; launches throttled", view.name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:
                log.exception("service reconcile failed")
            self._wake.wait(POLL_WALL_SECONDS)
            self._wake.clear()

    def _throttled(self, view: ServiceView) -> bool:
        with self._lock:
            t = self.throttles.get(view.group)
            if t is not None and t.task_definition != view.task_definition:
                del self.throttles[view.group]  # a new task definition: back to normal at once
                return False
            return t is not None and t.next_start > self.ctx.clock.now()

    def reconcile(self) -> None:
        for view in self.moto.services():
            if view.target_groups and view.active:
                self._replace_unhealthy(view)
            with self.runtime.lock:  # a consistent view: a stopped task's hold-off is known
                live = [r for r in self.runtime.in_group(view.group) if r.live]
            desired = view.desired if view.active else 0
            if len(live) < desired:
                self._start_tasks(view, desired - len(live))
            elif view.group in self.rebalancing:
                self._finish_rebalance(view, live, desired)
            elif len(live) > desired:
                self._stop_surplus(view, live, len(live) - desired)
            elif desired > 1:
                self._rebalance(view, live)
            running = sum(1 for r in self.runtime.in_group(view.group) if r.live)
            self.moto.set_counts(view, running=running, pending=0)

    def _replace_unhealthy(self, view: ServiceView) -> None:
        """Stop the RUNNING tasks past their grace period (wall seconds since RUNNING) that a
        target group of the service reports unhealthy; the next pass replaces them."""
        now = self.ctx.clock.now()
        past_grace = [r for r in self.runtime.in_group(view.group)
                      if r.live and r.last_status == RUNNING and r.started_at is not None
                      and self.ctx.clock.to_wall(now - r.started_at) >= view.grace_period]
        if not past_grace:
            return  # no health lookup while every task is in its grace period
        unhealthy = self.health.unhealthy()
        for record in past_grace:
            arn = unhealthy.get(record.task_id)
            if arn is None or arn not in view.target_groups:
                continue
            log.warning("service %s: task %s failed ELB health checks", view.name,
                        record.short_id)
            self.moto.add_event(view, f"(task {record.task_id}) (port {record.port}) is "
                                      f"unhealthy in (target-group {arn}) due to (reason "
                                      "Health checks failed).")
            self.runtime.stop(record.task_id, unhealthy_reason(arn),
                              SERVICE_SCHEDULER_INITIATED)
            self.moto.add_event(view, f"has stopped 1 running tasks: (task {record.task_id}).")

    def _start_tasks(self, view: ServiceView, missing: int) -> None:
        if self.placement_retry.get(view.group, 0.0) > self.ctx.clock.now():
            return
        if self._throttled(view):
            return
        for _ in range(missing):
            tasks = self.moto.run_task(view)
            if not tasks:
                self._unplaceable(view)
                return
            self.placement_retry.pop(view.group, None)
            for task in tasks:
                record = self.runtime.find(task.id)
                az = record.placement.az if record else None
                self.moto.add_event(view, f"has started 1 tasks: (task {task.id}) in {az}.")
                self.replacements.append({"service": view.name, "task": task.id, "az": az,
                                          "at": self.ctx.clock.now()})
                del self.replacements[:-100]

    def _unplaceable(self, view: ServiceView) -> None:
        if view.group not in self.placement_retry:  # one event per streak of failures
            self.moto.add_event(view, f"was unable to place a task. Reason: {NO_CAPACITY}.")
            log.warning("service %s: no capacity in any AZ of its subnets", view.name)
        self.placement_retry[view.group] = self.ctx.clock.now() + PLACEMENT_RETRY_SECONDS

    # -- Availability Zone rebalancing --------------------------------------------------------
    def _zones(self, view: ServiceView) -> list[str]:
        down = self.runtime.unavailable_azs()
        zones = {self.runtime.placer.zone(s) for s in view.subnets}
        return sorted(z for z in zones if z not in down)

    def _rebalance(self, view: ServiceView, live: list[TaskRecord]) -> None:
        zones = self._zones(view)
        if len(zones) < 2:
            return
        per_zone = Counter({z: 0 for z in zones})
        per_zone.update(r.placement.az for r in live if r.placement.az in per_zone)
        if max(per_zone.values()) - min(per_zone.values()) <= 1:
            return
        spread = ", ".join(f"{n} tasks in {z}" for z, n in sorted(per_zone.items()))
        self.moto.add_event(view, f"is not AZ balanced with {spread}. AZ Rebalancing in "
                                  "progress.")
        tasks = self.moto.run_task(view)
        if tasks:
            self.rebalancing[view.group] = tasks[0].id
            record = self.runtime.find(tasks[0].id)
            az = record.placement.az if record else None
            self.moto.add_event(view, f"has started 1 tasks in {az} to AZ Rebalance: "
                                      f"{tasks[0].id}.")

    def _finish_rebalance(self, view: ServiceView, live: list[TaskRecord], desired: int) -> None:
        new = self.runtime.find(self.rebalancing[view.group])
        if new is None or not new.live:
            del self.rebalancing[view.group]  # it died: the next pass looks again
            return
        if (new.started_at or self.ctx.clock.now()) + REBALANCE_SETTLE_SECONDS > \
                self.ctx.clock.now():
            return
        del self.rebalancing[view.group]
        if len(live) > desired:
            self._stop_surplus(view, [r for r in live if r is not new], len(live) - desired)
        per_zone = Counter(r.placement.az for r in self.runtime.in_group(view.group) if r.live)
        spread = ", ".join(f"{n} tasks in {z}" for z, n in sorted(per_zone.items()))
        self.moto.add_event(view, f"is AZ balanced with {spread}.")

    def _stop_surplus(self, view: ServiceView, live: list[TaskRecord], surplus: int) -> None:
        for _ in range(surplus):
            per_zone = Counter(r.placement.az for r in live)
            crowded = max(live, key=lambda r: (per_zone[r.placement.az], r.created_at))
            live.remove(crowded)
            self.runtime.stop(crowded.task_id, "Scaling activity initiated by (deployment "
                              f"{crowded.started_by})", SERVICE_SCHEDULER_INITIATED)
            self.moto.add_event(view, f"has stopped 1 running tasks: (task {crowded.task_id}).")

    def status(self) -> dict[str, Any]:
        with self._lock:
            throttled = {g: {"failures": t.failures,
                             "next_start_in": round(max(0.0, t.next_start - self.ctx.clock.now()),
                                                    1)}
                         for g, t in self.throttles.items()}
        return {"recent_starts": self.replacements[-20:], "throttled": throttled,
                "unplaceable": sorted(self.placement_retry), "rebalancing": self.rebalancing}
