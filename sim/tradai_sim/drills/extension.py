"""The Chaos Toolkit extension of the drills: the actions and probes playbooks call.

A playbook names them as Python providers (``"module": "tradai_sim.drills.extension"``).
Faults are FIS experiments started through ``chaosaws`` (so the same playbook drives AWS FIS
against a deployment); ``tradai:`` harness faults are skipped on AWS with a note. Probes that
are invariants return a verdict (``invariants.Verdict``) with the measured value and its
deadline in simulated seconds; their tolerance is ``invariant_held``. Before any fault they
check the steady state; after one they measure recovery from the fault's start.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from tradai_sim.drills import accounting, backlog, load, queues, trading, workflow
from tradai_sim.drills.context import DrillContext, Ticket, current
from tradai_sim.drills.invariants import Watch, holds, recovers

Configuration = dict[str, Any]
TERMINAL = ("completed", "stopped", "failed")


# -- tolerance ----------------------------------------------------------------------------------
def invariant_held(value: dict[str, Any] | None = None) -> bool:
    """The tolerance of every invariant probe (the engine passes the probe's output)."""
    return bool((value or {}).get("ok"))


def held_after_fault(value: dict[str, Any] | None = None) -> bool:
    """The tolerance of an invariant that only means something after the fault (before it,
    nothing has happened yet to be counted)."""
    return current().last_fault_at() is None or invariant_held(value)


# -- faults -------------------------------------------------------------------------------------
def start_fault(template: str, configuration: Configuration | None = None) -> dict[str, Any]:
    """Start the FIS experiment template named ``template`` (tag ``Name``)."""
    from chaosaws.fis.actions import start_experiment

    ctx = current(configuration)
    template_id, kind = _template(ctx, template)
    if template_id is None:
        note = (f"fault {template} skipped on {ctx.target}: it uses harness ({kind}) actions "
                "that AWS FIS does not have")
        ctx.notes.append(note)
        ctx.event("note", note)
        return {"skipped": note}
    started = ctx.now()
    exp = start_experiment(experiment_template_id=template_id,
                           tags={"Name": template, "tradai:drill": ctx.run_id},
                           configuration=_aws_configuration(ctx, configuration))["experiment"]
    ctx.faults.append({"template": template, "experiment_id": exp["id"], "started_at": started})
    ctx.event("fault", f"fault {template} started (FIS experiment {exp['id']})", started)
    return {"experiment_id": exp["id"], "template": template}


def wait_for_fault(state: str = "completed", timeout_s: float = 1800, action: str | None = None,
                   configuration: Configuration | None = None) -> dict[str, Any]:
    """Wait (simulated seconds) until the last fault's experiment reaches ``state``, or with
    ``action`` until that action does: an experiment is ``running`` before its actions are
    injected (they go through ``initiating``), so "the fault is on" is the action's state."""
    ctx = current(configuration)
    if not ctx.faults:
        return {"skipped": "no fault started"}
    fault = ctx.faults[-1]
    if not fault.get("experiment_id"):
        return {"skipped": "the fault was not started as an experiment"}
    fis = ctx.client("fis")
    deadline = ctx.now() + timeout_s
    what = f"fault {fault['template']}" + (f" action {action}" if action else "")
    while True:
        exp = fis.get_experiment(id=fault["experiment_id"])["experiment"]
        overall = exp["state"]["status"]
        current_state = (exp.get("actions", {}).get(action, {}).get("state", {})
                         if action else exp["state"])
        status = current_state.get("status", "pending")
        if status == state or (status in TERMINAL and state in TERMINAL):
            ctx.event("fault", f"{what} {status}")
            return {"status": status, "reason": current_state.get("reason")}
        if action and overall in TERMINAL:
            raise RuntimeError(f"{what} never {state}: the experiment ended {overall} "
                               f"({exp['state'].get('reason')})")
        if ctx.now() > deadline:
            raise RuntimeError(f"{what} still {status} after {timeout_s} s")
        time.sleep(0.2)


def stop_faults(configuration: Configuration | None = None) -> list[str]:
    """Rollback: stop every experiment this drill started that is still going."""
    ctx = current(configuration)
    fis = ctx.client("fis")
    stopped = []
    for fault in ctx.faults:
        if not fault.get("experiment_id"):
            continue  # injected by the drill itself (a task stopped, a workflow ended)
        status = fis.get_experiment(id=fault["experiment_id"])["experiment"]["state"]["status"]
        if status not in TERMINAL:
            fis.stop_experiment(id=fault["experiment_id"])
            stopped.append(fault["template"])
            ctx.event("fault", f"fault {fault['template']} stopped (rollback)")
    return stopped


def _template(ctx: DrillContext, name: str) -> tuple[str | None, str]:
    """The FIS template id to start: created/updated from the repository locally, the one the
    Pulumi program deployed (tag Name) on AWS; None for a harness template on AWS."""
    from tradai.faults.templates import load_templates

    tpl = load_templates().get(name)
    if tpl is None:
        raise ValueError(f"unknown fault template {name!r}")
    if ctx.local:
        from tradai_sim.fault_client import StackFis

        assert ctx.state_dir is not None
        return StackFis(ctx.state_dir).ensure_template(tpl), tpl.kind
    if tpl.kind != "aws":
        return None, tpl.kind
    fis = ctx.client("fis")
    for page in fis.get_paginator("list_experiment_templates").paginate():
        for summary in page["experimentTemplates"]:
            if summary.get("tags", {}).get("Name") == name:
                return str(summary["id"]), tpl.kind
    raise ValueError(f"fault template {name} is not deployed (run `pulumi up`)")


def _aws_configuration(ctx: DrillContext, configuration: Configuration | None) -> Configuration:
    return {**(configuration or {}), "aws_region": ctx.region}


# -- load on the platform -----------------------------------------------------------------------
def submit_backtests(count: int = 1, strategy: str = "EmaCrossover", alias: str = "champion",
                     pairs: list[str] | None = None, timerange: str | None = None,
                     label: str = "", configuration: Configuration | None = None) -> list[str]:
    """Submit backtests through the API, as a user would; each ticket is accounted for at the
    end of the drill."""
    ctx = current(configuration)
    ids = []
    for i in range(count):
        body: dict[str, Any] = {"strategy": strategy, "alias": alias,
                                "pairs": pairs or ["BTC/USDT"]}
        if timerange:
            body["timerange"] = timerange
        r = requests.post(f"{ctx.api_url}/api/v1/backtests", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {ctx.token()}",
                                   "Idempotency-Key": f"drill-{ctx.run_id}-{label}-{i}"})
        r.raise_for_status()
        job = r.json()["job_id"]
        ids.append(job)
        ctx.tickets.append(Ticket(job, ctx.now(), label))
    ctx.event("load", f"{count} backtest(s) submitted ({label or 'load'})")
    return ids


def submit_backlog(count: int, users: int, concurrency: int, strategy: str = "EmaCrossover",
                   alias: str = "champion", pairs: list[str] | None = None,
                   timerange: str | None = None, label: str = "backlog",
                   configuration: Configuration | None = None) -> dict[str, Any]:
    """A team's backlog: ``count`` submissions from ``users`` users, ``concurrency`` at a
    time, through the gateway; a 429 is waited out (Retry-After) and tried again."""
    body: dict[str, Any] = {"strategy": strategy, "alias": alias,
                            "pairs": pairs or ["BTC/USDT"]}
    if timerange:
        body["timerange"] = timerange
    return backlog.storm(current(configuration), count, users, concurrency, body, label)


def wait_for_tickets(status: str, at_least: int, label: str, timeout_s: float = 3600.0,
                     configuration: Configuration | None = None) -> int:
    """Wait until ``at_least`` tickets of ``label`` are ``status`` (as their owners see it)."""
    ctx = current(configuration)
    jobs = {t.job_id for t in ctx.tickets if t.label == label}

    def count() -> int:
        return sum(1 for j in accounting.tickets(ctx)
                   if j["job_id"] in jobs and j["status"] == status)

    return int(_wait(ctx, lambda: (n := count()) >= at_least and n, timeout_s,
                     f"{at_least} {label} tickets did not reach {status}"))


def cancel_queued(label: str = "backlog",
                  configuration: Configuration | None = None) -> dict[str, Any]:
    """Every user of ``label``'s tickets cancels all their queued backtests at once."""
    return backlog.cancel_queued(current(configuration), label)


def wait_simulated(seconds: float, configuration: Configuration | None = None) -> float:
    ctx = current(configuration)
    ctx.clock.sleep(seconds)
    return seconds


# -- probes (invariants) ------------------------------------------------------------------------
def egress_works(tier: str = "private", deadline_s: float | None = None,
                 must_break: bool = False,
                 configuration: Configuration | None = None) -> dict[str, Any]:
    """Every subnet of ``tier`` reaches the internet (a real request through its route).
    ``must_break``: the fault is meant to cut it, so recovery counts only once it was seen cut
    (see ``recovers``)."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        subnets = [s for s in ctx.control("/network")["subnets"] if s["tier"] == tier]
        bad = [f"{s['name']}: {s['egress'].get('reason') or 'probe failed'}" for s in subnets
               if not s["egress"].get("works")]
        return not bad and bool(subnets), "; ".join(bad) or f"{tier} egress works"

    return recovers(ctx, f"{tier}-egress-restored", check, deadline_s,
                    must_break=must_break).as_dict()


def aws_apis_through_endpoints(apis: list[str] | None = None, tier: str = "private",
                               deadline_s: float = 120.0,
                               invariant: str = "aws-apis-through-endpoints",
                               configuration: Configuration | None = None) -> dict[str, Any]:
    """Since the fault, processes in ``tier`` subnets called each of ``apis`` (boto3 client
    names) through a VPC endpoint, and at least one such call came while their route could not
    have carried it (the NAT down). The router counts connections per path and labels an
    endpoint's path ``(route down)`` then. For the NAT drill: update-nat-routes starts while
    no NAT forwards (its EC2 calls: route down) and completes the lifecycle action once the
    routes name the new instance (its Auto Scaling call: through the endpoint all the same, as
    private DNS sends it there). Waits up to ``deadline_s`` simulated seconds for them."""
    ctx = current(configuration)
    apis = apis or ["ec2", "autoscaling"]
    name = invariant
    if not ctx.local:
        ctx.notes.append(f"{name} reads the local VPC router's counters: not measured on AWS")
        return holds(name, True, None, "not measured on AWS", unit="connections").as_dict()

    def counts() -> dict[str, list[int]]:
        out = {a: [0, 0] for a in apis}  # [through an endpoint, of which with the route down]
        for subnet, listeners in ctx.control("/network/aws").items():
            if subnet.startswith(f"{tier}-"):
                for api in apis:
                    for via, n in listeners.get(f"aws:{api}", {}).get("via", {}).items():
                        if via.startswith("vpce-"):
                            out[api][0] += n
                            out[api][1] += n if via.endswith("(route down)") else 0
        return out

    key = f"_{name}_baseline"
    if ctx.last_fault_at() is None:
        ctx.status_cache[key] = counts()
        return holds(name, True, 0, "counted from here", unit="connections",
                     phase="baseline").as_dict()
    base, until = ctx.status_cache.get(key, {}), ctx.now() + deadline_s
    while True:
        delta = {a: [n - b for n, b in zip(now, base.get(a, [0, 0]), strict=True)]
                 for a, now in counts().items()}
        ok = all(d[0] for d in delta.values()) and any(d[1] for d in delta.values())
        if ok or ctx.now() >= until:
            break
        time.sleep(0.5)
    detail = "; ".join(f"{a}: {d[0]} connection(s) from {tier} subnets through its VPC "
                       f"endpoint, {d[1]} with the route down" for a, d in delta.items())
    if not ok:  # where the calls went instead, if anywhere (totals since the stack started)
        elsewhere = {f"{subnet} {api}": listeners.get(f"aws:{api}", {}).get("via", {})
                     for subnet, listeners in ctx.control("/network/aws").items()
                     for api in apis if listeners.get(f"aws:{api}", {}).get("via")}
        detail += f" (all paths since the start: {elsewhere or 'none'})"
    return holds(name, ok, sum(d[0] for d in delta.values()), detail,
                 unit="connections").as_dict()


def services_healthy(deadline_s: float | None = None, minimum: int = 1,
                     configuration: Configuration | None = None) -> dict[str, Any]:
    """Every ECS service has ``minimum`` RUNNING tasks, and the ALB sees the load-balanced
    ones healthy."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        return accounting.services_state(ctx, minimum)

    return recovers(ctx, "services-healthy", check, deadline_s).as_dict()


def tickets_settled(deadline_s: float = 1800, require_completed: bool = False,
                    configuration: Configuration | None = None) -> dict[str, Any]:
    """The accounting: every ticket accepted during the drill is COMPLETED, or FAILED with a
    reason (``require_completed``: COMPLETED only); none stuck, none lost."""
    ctx = current(configuration)
    if not ctx.tickets:
        return holds("tickets-settled", True, 0, "no tickets were submitted", unit="tickets",
                     phase="baseline").as_dict()
    since = max(t.submitted_at for t in ctx.tickets)
    verdict = recovers(ctx, "tickets-settled",
                       lambda: accounting.tickets_state(ctx, require_completed),
                       deadline_s, since=since)
    if verdict.ok:  # the count settled, not the seconds it took
        verdict.value, verdict.unit = len(ctx.tickets), "tickets"
    return verdict.as_dict()


def candles_intact(pairs: list[str] | None = None, timeframe: str = "5m",
                   deadline_s: float | None = 600,
                   configuration: Configuration | None = None) -> dict[str, Any]:
    """The data collection service's series have no gap and no duplicate since the drill
    started, up to the last closed candle (an outage's gap backfilled)."""
    ctx = current(configuration)
    pairs = pairs or ["BTC/USDT"]

    def check() -> tuple[bool, str]:
        return accounting.candles_state(ctx, pairs, timeframe)

    return recovers(ctx, "candles-intact", check, deadline_s).as_dict()


# -- API load and its error window -------------------------------------------------------------
def api_load(path: str = "/api/v1/strategies", interval_s: float = 6.0,
             duration_s: float = 900.0, configuration: Configuration | None = None) -> dict:
    """Background action: a user calling the API every ``interval_s`` simulated seconds until
    the invariants are checked (or ``duration_s``); every answer is recorded."""
    return load.run(current(configuration), path, interval_s, duration_s)


def stop_api_load(configuration: Configuration | None = None) -> None:
    """End the background API load (the method's recovery is over)."""
    current(configuration).stop_load.set()


def api_error_window(max_window_s: float | None = None, allow_lost: int = 0,
                     configuration: Configuration | None = None) -> dict[str, Any]:
    """What users saw during the drill: the error rate, the window from the first error to
    the last (simulated seconds), and requests lost silently (no answer: timeouts, resets).
    Holds when nothing was lost and the window is within ``max_window_s``."""
    return load.verdict(current(configuration), max_window_s, allow_lost).as_dict()


# -- ECS and the workflow ------------------------------------------------------------------------
def scale_service(service: str, desired: int,
                  configuration: Configuration | None = None) -> dict[str, Any]:
    ctx = current(configuration)
    ctx.client("ecs").update_service(cluster=ctx.name("strategies"), service=ctx.name(service),
                                     desiredCount=desired)
    ctx.event("activity", f"{service} scaled to {desired} task(s)")
    return {"service": service, "desired": desired}


def mark(name: str, configuration: Configuration | None = None) -> float:
    """Remember this simulated instant (``since_mark`` of later probes)."""
    ctx = current(configuration)
    ctx.event("activity", f"mark {name}")
    return ctx.mark(name)


def stop_strategy_task(label: str, timeout_s: float = 900.0,
                       configuration: Configuration | None = None) -> dict[str, Any]:
    """The strategy task of the last ticket submitted with ``label`` dies mid-run: wait until
    it runs, then stop it (ECS StopTask, as FIS's aws:ecs:stop-task does)."""
    ctx = current(configuration)
    job = _ticket(ctx, label)
    task = _wait(ctx, lambda: workflow.running_task(ctx, job), timeout_s,
                 f"no running strategy task for job {job}")
    ctx.client("ecs").stop_task(cluster=ctx.name("strategies"), task=task,
                                reason="drill: the strategy task dies mid-backtest")
    started = ctx.now()
    ctx.faults.append({"template": "strategy-task-stop", "experiment_id": None,
                       "started_at": started})
    ctx.event("fault", f"strategy task of job {job[:8]} stopped mid-run", started)
    return {"job_id": job, "task": task}


def start_stray_task(label: str, timeout_s: float = 1800.0,
                     configuration: Configuration | None = None) -> dict[str, Any]:
    """Once the last ticket with ``label`` has finished, a strategy task of its job starts
    again (as a RunTask retried after a lost answer would) and runs on with no workflow: an
    orphan."""
    ctx = current(configuration)
    job = _ticket(ctx, label)
    _wait(ctx, lambda: any(j["job_id"] == job and j["status"] in accounting.TERMINAL
                           for j in accounting.tickets(ctx)), timeout_s,
          f"job {job} did not finish")
    task = workflow.run_stray_task(ctx, job)
    started = ctx.now()
    ctx.faults.append({"template": "stray-strategy-task", "experiment_id": None,
                       "started_at": started})
    ctx.event("fault", f"a strategy task of finished job {job[:8]} runs with no workflow",
              started)
    return {"job_id": job, "task": task}


def no_task_left(label: str, deadline_s: float | None = None,
                 configuration: Configuration | None = None) -> dict[str, Any]:
    """No strategy task of the ``label`` tickets is still running (cleaned up)."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        jobs = [t.job_id for t in ctx.tickets if t.label == label]
        running = [j[:8] for j in jobs if workflow.running_task(ctx, j)]
        return not running, (f"still running: {', '.join(running)}" if running
                             else "no strategy task left running")

    return recovers(ctx, f"{label}-tasks-cleaned-up", check, deadline_s).as_dict()


def tickets_end(label: str, status: str, reason_contains: str = "",
                deadline_s: float = 1800.0,
                configuration: Configuration | None = None) -> dict[str, Any]:
    """Every ticket submitted with ``label`` ends ``status`` (FAILED: with a reason that
    contains ``reason_contains``)."""
    ctx = current(configuration)
    jobs = {t.job_id for t in ctx.tickets if t.label == label}
    if not jobs:  # the steady state, before the method submitted them
        return holds(f"{label}-tickets-{status.lower()}", True, 0,
                     f"no {label} tickets yet", unit="tickets", phase="baseline").as_dict()

    def check() -> tuple[bool, str]:
        seen = [j for j in accounting.tickets(ctx) if j["job_id"] in jobs]
        bad = [f"{j['job_id'][:8]} {j['status']} {j.get('error') or ''}".strip() for j in seen
               if j["status"] != status or reason_contains not in (j.get("error") or "")]
        return bool(seen) and not bad, "; ".join(bad) or f"{len(seen)} {status}"

    since = max((t.submitted_at for t in ctx.tickets if t.label == label), default=None)
    return recovers(ctx, f"{label}-tickets-{status.lower()}", check, deadline_s,
                    since=since).as_dict()


def submissions_answered(configuration: Configuration | None = None) -> dict[str, Any]:
    """Every submission was accepted, or refused with a reason (429 with Retry-After); no 5xx,
    none left without an answer."""
    return backlog.submissions_verdict(current(configuration)).as_dict()


def task_limit_held(limit: int | None = None,
                    configuration: Configuration | None = None) -> dict[str, Any]:
    """Never more strategy tasks RUNNING at once than the limit (the spec's
    ``task_definitions[strategy].max_concurrent`` unless given): the exact peak over every
    task seen since the steady state, watched for the whole drill."""
    ctx = current(configuration)
    if not ctx.local:
        ctx.notes.append("task-limit-held reads the harness's task list: not measured on AWS")
        return holds("task-limit-held", True, None, "not measured on AWS",
                     unit="tasks").as_dict()
    limit = limit or _strategy_task_limit()
    watch = ctx.watches.setdefault("task-limit-held",
                                   Watch(lambda: backlog.task_limit_check(ctx, limit)))
    ok, detail = watch.observe(ctx)
    broken = [t for t, held in watch.observations if not held]
    return holds("task-limit-held", ok and not broken, ctx.status_cache.get("_task_peak"),
                 detail, deadline=limit, unit="tasks",
                 phase="baseline" if ctx.last_fault_at() is None and not ctx.tickets
                 else "recovery").as_dict()


def _strategy_task_limit() -> int:
    from tradai.topology.load import default_topology

    return next(t.max_concurrent for t in default_topology().task_definitions
                if t.name == "strategy")


def one_execution_each(configuration: Configuration | None = None) -> dict[str, Any]:
    """Exactly once: every ticket of the drill has one workflow execution, no more."""
    ctx = current(configuration)
    counts = {t.job_id: workflow.execution_count(ctx, t.job_id) for t in ctx.tickets}
    bad = {j[:8]: n for j, n in counts.items() if n != 1}
    return holds("one-execution-per-ticket", not bad, len(counts) - len(bad),
                 f"executions per ticket not 1: {bad}" if bad else
                 f"{len(counts)} tickets, one execution each", unit="tickets").as_dict()


def service_replaced(service: str, deadline_s: float,
                     configuration: Configuration | None = None) -> dict[str, Any]:
    """After the fault, the service runs a task started after it (ECS replaced the one lost)."""
    ctx = current(configuration)
    start = ctx.last_fault_at()
    if start is None:
        ok = bool(workflow.service_tasks(ctx, service))
        return holds(f"{service}-replaced", ok, None, f"{service} runs", phase="baseline",
                     unit="s").as_dict()

    def fresh() -> list[dict[str, Any]]:
        return [t for t in workflow.service_tasks(ctx, service)
                if (t.get("started_at") or 0) > start]

    found = _wait(ctx, fresh, deadline_s * 2, f"no {service} task started after the fault")
    took = round(min(t["started_at"] for t in found) - start, 1)
    return holds(f"{service}-replaced", took <= deadline_s, took,
                 f"replacement {found[0]['short_id']} started in {found[0]['az']}",
                 deadline=deadline_s, unit="s").as_dict()


def service_spread(service: str, deadline_s: float, since_mark: str,
                   configuration: Configuration | None = None) -> dict[str, Any]:
    """The service's tasks run in every AZ again (ECS rebalancing), measured from a mark."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        azs = sorted({t["az"] for t in workflow.service_tasks(ctx, service)})
        return len(azs) >= 2, f"{service} tasks in {', '.join(azs) or 'no AZ'}"

    return recovers(ctx, f"{service}-spread-over-azs", check, deadline_s,
                    since=ctx.marks.get(since_mark)).as_dict()


# -- queues ---------------------------------------------------------------------------------------
def wait_for_queue(queue: str, at_least: int, timeout_s: float = 1800.0,
                   configuration: Configuration | None = None) -> int:
    """Wait until ``queue`` holds at least ``at_least`` messages (visible or in flight)."""
    ctx = current(configuration)
    depth = _wait(ctx, lambda: (n := queues.depth(ctx, queue)) >= at_least and n, timeout_s,
                  f"{queue} never held {at_least} messages")
    ctx.event("infra", f"{queue} holds {depth} message(s)")
    return int(depth)


def replay_dlq(queue: str = "backtest-dlq.fifo", rate: int | None = None,
               timeout_s: float = 1800.0, configuration: Configuration | None = None) -> dict:
    """``tradai dlq replay``: an SQS message move task back to each message's source queue."""
    ctx = current(configuration)
    ctx.mark("replay")
    task = queues.replay(ctx, queue, rate)
    ctx.event("recovery", f"DLQ replay started: {task['handle'][-12:]}")
    done = _wait(ctx, lambda: (t := queues.move_task(ctx, queue, task["handle"]))["Status"]
                 in ("COMPLETED", "FAILED", "CANCELLED") and t, timeout_s,
                 "the DLQ replay did not finish")
    ctx.event("recovery", f"DLQ replay {done['Status'].lower()}: "
                          f"{done.get('ApproximateNumberOfMessagesMoved')} message(s) moved")
    return {"status": done["Status"], "moved": done.get("ApproximateNumberOfMessagesMoved")}


def queue_empty(queue: str, deadline_s: float | None = None, since_mark: str | None = None,
                configuration: Configuration | None = None) -> dict[str, Any]:
    """``queue`` holds nothing, within ``deadline_s`` of the fault (or of a mark)."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        n = queues.depth(ctx, queue)
        return n == 0, f"{queue} holds {n} message(s)"

    since = ctx.marks.get(since_mark) if since_mark else None
    return recovers(ctx, f"{queue}-empty", check, deadline_s, since=since).as_dict()


def alarm_notified_once(alarm: str, configuration: Configuration | None = None) -> dict:
    """The alarm went to ALARM and said so once (one SNS notification), not once per check."""
    ctx = current(configuration)
    if not ctx.local:
        return holds(f"{alarm}-notified-once", True, None, "not measurable on AWS from here",
                     phase="skipped").as_dict()
    n = queues.alarm_notifications(ctx, ctx.name(alarm), "ALARM")
    return holds(f"{alarm}-notified-once", n == 1, n, f"{n} ALARM notification(s) published",
                 unit="notifications").as_dict()


def _ticket(ctx: DrillContext, label: str) -> str:
    found = [t for t in ctx.tickets if t.label == label]
    if not found:
        raise ValueError(f"no ticket was submitted with label {label!r}")
    return found[-1].job_id


def _wait(ctx: DrillContext, probe: Any, timeout_s: float, what: str) -> Any:
    deadline = ctx.now() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if ctx.now() > deadline:
            raise RuntimeError(f"{what} within {timeout_s:g} simulated s")
        time.sleep(0.5)


# -- trading sessions ---------------------------------------------------------------------------
def start_trading_session(label: str, strategy: str, alias: str = "champion",
                          mode: str = "dry-run", timeout_s: float = 1800.0,
                          configuration: Configuration | None = None) -> dict[str, Any]:
    """Start a session through the API and wait for its first heartbeat (RUNNING)."""
    ctx = current(configuration)
    sid = trading.start(ctx, strategy, alias, mode)
    ctx.sessions[label] = sid
    ctx.event("action", f"trading session {sid} ({label}) started")
    shown = _wait(ctx, lambda: (s := trading.show(ctx, sid)) and s["status"] == "RUNNING" and s,
                  timeout_s, f"session {sid} sent no heartbeat")
    ctx.event("action", f"session {sid} RUNNING, v{shown.get('version')}")
    return {"session_id": sid, "version": shown.get("version")}


def stop_trading_sessions(configuration: Configuration | None = None) -> dict[str, int]:
    ctx = current(configuration)
    return {sid: trading.stop(ctx, sid) for sid in ctx.sessions.values()}


def stale_alert_once(label: str, after_s: float = 180.0, check_period_s: float = 60.0,
                     configuration: Configuration | None = None) -> dict:
    """Exactly one STALE alert for the session, published more than ``after_s`` and at most
    ``after_s + check_period_s`` simulated seconds after its last heartbeat."""
    ctx = current(configuration)
    if label not in ctx.sessions:  # the steady state before the method started it
        return _not_started(label)
    sid = ctx.sessions[label]
    found = trading.alerts(ctx, trading.STALE_PREFIX, sid)
    if len(found) != 1:
        return holds(f"{label}-stale-alert-once", False, len(found),
                     f"{len(found)} STALE alert(s) for {sid}", unit="alerts").as_dict()
    last = found[0]["body"].get("last_heartbeat")
    from datetime import datetime

    last_at = datetime.fromisoformat(str(last).replace("Z", "+00:00")).timestamp()
    delay = found[0]["at"] - last_at
    ok = after_s < delay <= after_s + check_period_s + 1  # + the body's whole-second rounding
    return holds(f"{label}-stale-alert-once", ok, round(delay, 1),
                 f"one STALE alert {delay:.0f} s after the last heartbeat (window "
                 f"({after_s:g}, {after_s + check_period_s:g}])",
                 deadline=after_s + check_period_s, unit="s").as_dict()


def no_stale_alert(label: str, configuration: Configuration | None = None) -> dict:
    ctx = current(configuration)
    if label not in ctx.sessions:  # the steady state before the method started it
        return _not_started(label)
    sid = ctx.sessions[label]
    n = len(trading.alerts(ctx, trading.STALE_PREFIX, sid))
    return holds(f"{label}-no-alert", n == 0, n, f"{n} STALE alert(s) for {sid}",
                 unit="alerts").as_dict()


def recovery_notice_once(label: str, configuration: Configuration | None = None) -> dict:
    """One RECOVERED notice for the session once its heartbeats came back, not one per check."""
    ctx = current(configuration)
    if label not in ctx.sessions:  # the steady state before the method started it
        return _not_started(label)
    sid = ctx.sessions[label]
    n = len(trading.alerts(ctx, trading.RECOVERED_PREFIX, sid))
    return holds(f"{label}-recovery-notice-once", n == 1, n,
                 f"{n} recovery notice(s) for {sid}", unit="notices").as_dict()


def session_fresh(label: str, max_age_s: float = 60.0, deadline_s: float | None = None,
                  configuration: Configuration | None = None) -> dict:
    """The session is RUNNING with a heartbeat at most ``max_age_s`` old: it trades on. After
    a fault, the simulated seconds until that held again."""
    ctx = current(configuration)
    if label not in ctx.sessions:  # the steady state before the method started it
        return _not_started(label)
    sid = ctx.sessions[label]

    def check() -> tuple[bool, str]:
        shown = trading.show(ctx, sid) or {}
        age = shown.get("heartbeat_age_seconds")
        ok = shown.get("status") == "RUNNING" and age is not None and float(age) <= max_age_s
        return ok, f"status {shown.get('status')}, heartbeat age {age} s"

    return recovers(ctx, f"{label}-fresh", check, deadline_s).as_dict()


def _not_started(label: str) -> dict:
    return holds(f"{label}-session", True, None, f"session {label} not started yet",
                 phase="skipped").as_dict()
