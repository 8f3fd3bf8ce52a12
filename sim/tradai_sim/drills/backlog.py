"""A backlog as a busy team makes one: many users submit at once, the strategy-task limit holds,
the queued rest is cancelled in bulk, and every ticket still ends settled.

``storm`` submits through the gateway from several users at a fixed concurrency, as a client
should: a 429 is waited out for its Retry-After and tried again. Every answer is recorded, so
the verdicts can say what users saw: every submission accepted, or refused with a reason; a
5xx or no answer at all is a violation. ``task_peak`` measures the most strategy tasks RUNNING
at once from the tasks' own start and stop instants (an exact sweep, not a sampled count).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from tradai_sim.drills.context import DrillContext, Ticket
from tradai_sim.drills.invariants import Verdict, holds
from tradai_sim.drills.users import UserPool, aws_pool, local_pool

CALL_TIMEOUT_WALL_S = 30.0
MAX_ATTEMPTS = 30  # per submission, 429s included
CANCEL_ATTEMPTS = 5  # per user's bulk cancel: a 5xx or 429 is tried again
ACCEPTED = (200, 201, 202)
TASK_GROUP = "backtest:"  # the ECS task group of a backtest's strategy task


@dataclass(frozen=True)
class Answer:
    index: int  # which submission (its Idempotency-Key names it)
    user: str
    at: float  # simulated
    latency_ms: float
    status: int | None  # None: no answer (timeout, reset)
    reason: str = ""
    retry_after: str | None = None
    job_id: str | None = None


def pool(ctx: DrillContext) -> UserPool:
    cached = ctx.status_cache.get("_users")
    if cached is None:
        if ctx.local:
            cognito = ctx.control("/status")["resources"]["cognito"]
            cached = local_pool(ctx.client("cognito-idp"), cognito)
        else:
            cached = aws_pool()
        ctx.status_cache["_users"] = cached
    return cached  # type: ignore[no-any-return]


def answers(ctx: DrillContext) -> list[Answer]:
    return ctx.status_cache.setdefault("_submissions", [])  # type: ignore[no-any-return]


def storm(ctx: DrillContext, count: int, users: int, concurrency: int, body: dict[str, Any],
          label: str) -> dict[str, Any]:
    """Submit ``count`` backtests, submission i from user i mod ``users``, ``concurrency`` at
    a time; returns the answer counts."""
    users_ = pool(ctx)
    keys = users_.ensure(users)
    record = answers(ctx)
    lock = threading.Lock()
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "s"):
            local.s = requests.Session()
        return local.s  # type: ignore[no-any-return]

    def one(i: int) -> None:
        key = keys[i % len(keys)]
        headers = {"Idempotency-Key": f"drill-{ctx.run_id}-{label}-{i}"}
        for _ in range(MAX_ATTEMPTS):
            at, t0 = ctx.now(), time.perf_counter()
            headers["Authorization"] = f"Bearer {users_.token(key)}"
            try:
                r = session().post(f"{ctx.api_url}/api/v1/backtests", json=body,
                                   headers=headers, timeout=CALL_TIMEOUT_WALL_S)
            except requests.RequestException as exc:
                with lock:
                    record.append(Answer(i, key, at, _ms(t0), None, type(exc).__name__))
                return
            answer = Answer(i, key, at, _ms(t0), r.status_code, _reason(r),
                            r.headers.get("Retry-After"),
                            r.json().get("job_id") if r.status_code in ACCEPTED else None)
            with lock:
                record.append(answer)
                if answer.job_id:
                    ctx.tickets.append(Ticket(answer.job_id, at, label, owner=key))
            if r.status_code != 429:
                return
            time.sleep(min(60.0, float(answer.retry_after or 1)))

    ctx.event("load", f"{count} backtests from {users} users, {concurrency} at a time")
    with ThreadPoolExecutor(concurrency) as workers:
        list(workers.map(one, range(count)))
    counts = Counter(str(a.status) for a in record)
    ctx.event("load", "submitted: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return {"answers": dict(counts), "accepted": sum(1 for a in record if a.job_id)}


def cancel_queued(ctx: DrillContext, label: str) -> dict[str, Any]:
    """Each user of the drill cancels all their queued backtests (one bulk call each)."""
    users_ = pool(ctx)
    owners = sorted({t.owner for t in ctx.tickets if t.label == label and t.owner})
    cancelled: dict[str, int] = {}
    for key in owners:
        cancelled[key] = 0
        for attempt in range(1, CANCEL_ATTEMPTS + 1):
            # Idempotent: a call that timed out may have cancelled some; the next one the rest.
            try:
                r = requests.delete(f"{ctx.api_url}/api/v1/backtests",
                                    params={"status": "QUEUED"}, timeout=CALL_TIMEOUT_WALL_S,
                                    headers={"Authorization": f"Bearer {users_.token(key)}"})
            except requests.RequestException as exc:
                status, text, wait = None, type(exc).__name__, 1.0
            else:
                if r.status_code == 200:
                    cancelled[key] += int(r.json()["cancelled"])
                    break
                status, text = r.status_code, r.text[:200]
                wait = float(r.headers.get("Retry-After") or 1)
            refused = status is not None and status < 500 and status != 429
            if refused or attempt == CANCEL_ATTEMPTS:
                raise RuntimeError(f"bulk cancel for {key} answered {status}: {text}")
            ctx.event("load", f"bulk cancel for {key} answered {status or text}; again")
            time.sleep(min(30.0, wait))
    total = sum(cancelled.values())
    ctx.event("activity", f"{total} queued backtests cancelled by {len(owners)} users")
    return {"cancelled": total, "users": len(owners)}


def submissions_verdict(ctx: DrillContext) -> Verdict:
    """Every submission was accepted, or refused with a reason (a 429 with Retry-After too);
    none answered 5xx and none lost without an answer."""
    record = answers(ctx)
    if not record:
        return holds("submissions-answered", True, 0, "nothing submitted yet",
                     unit="submissions", phase="baseline")
    final: dict[int, Answer] = {}
    for a in sorted(record, key=lambda a: a.at):
        final[a.index] = a
    bad = [a for a in record if a.status is None or a.status >= 500
           or (a.status >= 400 and not a.reason)
           or (a.status == 429 and not a.retry_after)]
    unsettled = [a for a in final.values() if a.status == 429]  # gave up retrying
    accepted = sum(1 for a in final.values() if a.job_id)
    refused = Counter(a.status for a in final.values() if not a.job_id)
    examples = "; ".join(f"#{a.index} {a.status}: {a.reason[:80]}" for a in bad[:3])
    detail = (f"{len(final)} submissions: {accepted} accepted"
              + "".join(f", {n} refused {s}" for s, n in sorted(refused.items()))
              + f"; {sum(1 for a in record if a.status == 429)} answers were 429 with "
              "Retry-After" + (f"; violations: {examples}" if bad else ""))
    ok = not bad and not unsettled
    return holds("submissions-answered", ok, accepted, detail, unit="accepted")


def task_peak(tasks: list[dict[str, Any]], now: float) -> tuple[int, float | None]:
    """The most strategy tasks RUNNING at one instant, and that instant: a sweep over each
    task's RUNNING interval (started_at until it began stopping)."""
    edges: list[tuple[float, int]] = []
    for t in tasks:
        if not str(t.get("group", "")).startswith(TASK_GROUP) or t.get("started_at") is None:
            continue
        end = t.get("stopping_at") or t.get("stopped_at") or now
        edges += [(float(t["started_at"]), 1), (float(end), -1)]
    peak, at, running = 0, None, 0
    for instant, step in sorted(edges, key=lambda e: (e[0], e[1])):  # stops before starts
        running += step
        if running > peak:
            peak, at = running, instant
    return peak, at


def task_limit_check(ctx: DrillContext, limit: int) -> tuple[bool, str]:
    """Folds the harness's task list into every task seen so far (stopped tasks are evicted
    from the list after a while) and sweeps them."""
    seen: dict[str, dict[str, Any]] = ctx.status_cache.setdefault("_strategy_tasks", {})
    for t in ctx.control("/ecs/tasks")["tasks"]:
        if str(t.get("group", "")).startswith(TASK_GROUP):
            seen[t["task_arn"]] = t
    peak, at = task_peak(list(seen.values()), ctx.now())
    ctx.status_cache["_task_peak"] = peak
    when = f" at t+{at - ctx.started_at:.0f} s" if at is not None else ""
    return peak <= limit, (f"at most {peak} strategy tasks running at once{when} "
                           f"(limit {limit}, {len(seen)} tasks seen)")


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _reason(r: requests.Response) -> str:
    if r.status_code < 400:
        return ""
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    # the API's {"detail": ...} (a list of field errors for a 422), the edge's {"reason": ...}
    detail = body.get("detail") or body.get("reason") or body.get("message") or ""
    return str(detail)[:200]
