"""Samples the stack while a drill runs, for the picture of the recovery: egress per private
subnet, healthy targets and running tasks per AZ, queue and DLQ depth, ticket states.

One thread, a sample every ``INTERVAL_WALL_S``; each sample is a flat dict keyed by series name
with the simulated time under ``t``. Reads only what the harness exposes (control routes, the
ALB's target list, SQS attributes), so a slow sample never blocks the drill.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from typing import Any

import requests

from tradai_sim.drills import accounting, invariants
from tradai_sim.drills.context import DrillContext

log = logging.getLogger(__name__)

INTERVAL_WALL_S = 0.5
TICKETS_EVERY = 4  # samples between ticket-state reads (one API call per ticket)


class Sampler:
    def __init__(self, ctx: DrillContext, queues: tuple[str, ...] = (
            "backtest-queue.fifo", "backtest-dlq.fifo")) -> None:
        self.ctx = ctx
        self.queues = queues
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-sampler", daemon=True)
        self._urls: dict[str, str] = {}
        self._tickets: dict[str, int] = {}

    def start(self) -> None:
        sqs = self.ctx.client("sqs")
        for q in self.queues:
            with contextlib.suppress(Exception):
                self._urls[q] = sqs.get_queue_url(QueueName=self.ctx.name(q))["QueueUrl"]
        self._thread.start()

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.samples

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(INTERVAL_WALL_S):
            try:
                self.samples.append(self.sample(with_tickets=n % TICKETS_EVERY == 0))
            except Exception as exc:  # the stack is being broken on purpose; try again
                log.debug("sample failed: %s", exc)
            invariants.watch_all(self.ctx)
            n += 1

    def sample(self, with_tickets: bool = False) -> dict[str, Any]:
        ctx = self.ctx
        out: dict[str, Any] = {"t": ctx.now()}
        for subnet in ctx.control("/network")["subnets"]:
            if subnet["tier"] == "private":
                out[f"egress {subnet['name']}"] = 1 if subnet["egress"].get("works") else 0
        tasks = ctx.control("/ecs/tasks")["tasks"]
        running = Counter(t["az"] for t in tasks if t["last_status"] == "RUNNING"
                          and t["group"].startswith("service:"))
        for az, count in running.items():
            out[f"service tasks {az}"] = count
        out["strategy tasks"] = sum(1 for t in tasks if t["last_status"] == "RUNNING"
                                    and t["group"].startswith("backtest:"))
        alb = ctx.status_cache["resources"]["endpoints"]["alb"]
        targets = requests.get(f"{alb}/_alb/targets", timeout=5).json()
        for service in accounting.LOAD_BALANCED:
            healthy = Counter(t["az"] for t in targets.get(service, [])
                              if t["state"] == "healthy")
            for az, count in healthy.items():
                out[f"healthy {service} {az}"] = count
        sqs = ctx.client("sqs")
        for name, url in self._urls.items():
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
            out[f"queue {name}"] = int(attrs["Attributes"]["ApproximateNumberOfMessages"]) + int(
                attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"])
        if with_tickets and ctx.tickets:
            self._tickets = dict(Counter(j["status"] for j in accounting.tickets(ctx)))
        for state, count in self._tickets.items():
            out[f"tickets {state}"] = count
        return out
