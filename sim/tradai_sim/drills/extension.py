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

from tradai_sim.drills import accounting
from tradai_sim.drills.context import DrillContext, Ticket, current
from tradai_sim.drills.invariants import holds, recovers

Configuration = dict[str, Any]
TERMINAL = ("completed", "stopped", "failed")


# -- tolerance ----------------------------------------------------------------------------------
def invariant_held(value: dict[str, Any] | None = None) -> bool:
    """The tolerance of every invariant probe (the engine passes the probe's output)."""
    return bool((value or {}).get("ok"))


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


def wait_for_fault(state: str = "completed", timeout_s: float = 1800,
                   configuration: Configuration | None = None) -> dict[str, Any]:
    """Wait (simulated seconds) until the last fault's experiment reaches ``state``."""
    ctx = current(configuration)
    if not ctx.faults:
        return {"skipped": "no fault started"}
    fault = ctx.faults[-1]
    fis = ctx.client("fis")
    deadline = ctx.now() + timeout_s
    while True:
        exp = fis.get_experiment(id=fault["experiment_id"])["experiment"]
        status = exp["state"]["status"]
        if status == state or (status in TERMINAL and state in TERMINAL):
            ctx.event("fault", f"fault {fault['template']} {status}")
            return {"status": status, "reason": exp["state"].get("reason")}
        if ctx.now() > deadline:
            raise RuntimeError(f"fault {fault['template']} still {status} after {timeout_s} s")
        time.sleep(0.2)


def stop_faults(configuration: Configuration | None = None) -> list[str]:
    """Rollback: stop every experiment this drill started that is still going."""
    ctx = current(configuration)
    fis = ctx.client("fis")
    stopped = []
    for fault in ctx.faults:
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


def wait_simulated(seconds: float, configuration: Configuration | None = None) -> float:
    ctx = current(configuration)
    ctx.clock.sleep(seconds)
    return seconds


# -- probes (invariants) ------------------------------------------------------------------------
def egress_works(tier: str = "private", deadline_s: float | None = None,
                 configuration: Configuration | None = None) -> dict[str, Any]:
    """Every subnet of ``tier`` reaches the internet (a real request through its route)."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        subnets = [s for s in ctx.control("/network")["subnets"] if s["tier"] == tier]
        bad = [f"{s['name']}: {s['egress'].get('reason') or 'probe failed'}" for s in subnets
               if not s["egress"].get("works")]
        return not bad and bool(subnets), "; ".join(bad) or f"{tier} egress works"

    return recovers(ctx, f"{tier}-egress-restored", check, deadline_s).as_dict()


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
    verdict.value = len(ctx.tickets) if verdict.ok else verdict.value
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
