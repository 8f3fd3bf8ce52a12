"""Probes and actions of the rds-outage drill: what users see while MLflow's database is down.

During the outage ``answers_during_outage`` records what the API answers: the strategy listing
(until it is refused, then a few times more) and backtest submissions. After the fault the
probes judge the record: the listing was refused with 503 naming the registry and a
Retry-After; each submission was either accepted (a ticket, which ``tickets_settled`` then
accounts for) or refused at validation with 503, a reason naming the registry and a
Retry-After, never another error and never left unanswered. ``listing_recovers`` measures how
long after the database came back the listing answered 200 with the registered strategies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tradai_sim.drills.context import DrillContext, Ticket, current
from tradai_sim.drills.invariants import holds, recovers

Configuration = dict[str, Any]
LISTING = "/api/v1/strategies"
# A service's first request after the stack starts can take half a minute on a busy machine
# (lazy imports, first MLflow login): an answer that slow is still an answer.
REQUEST_TIMEOUT_S = 90.0


@dataclass
class Answer:
    what: str  # "listing" or "submission"
    at: float  # simulated
    status: int | None  # None: no answer (timeout, reset)
    reason: str
    retry_after: str | None
    job_id: str | None = None  # an accepted submission's


@dataclass
class Record:
    answers: list[Answer] = field(default_factory=list)


_records: dict[str, Record] = {}


def _record(ctx: DrillContext) -> Record:
    return _records.setdefault(ctx.run_id, Record())


def _headers(ctx: DrillContext, key: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {ctx.token()}"}
    if key:
        out["Idempotency-Key"] = key
    return out


def _answer(ctx: DrillContext, what: str, call: Any) -> Answer:
    try:
        r = call()
    except requests.RequestException as exc:
        return Answer(what, ctx.now(), None, f"{type(exc).__name__}: {exc}", None)
    try:
        body = r.json()
    except ValueError:
        body = {}
    reason = str(body.get("detail") or body.get("message") or body.get("error") or "") \
        if isinstance(body, dict) else ""
    job = body.get("job_id") if isinstance(body, dict) and r.status_code in (200, 202) else None
    return Answer(what, ctx.now(), r.status_code, reason, r.headers.get("Retry-After"),
                  str(job) if job else None)


def answers_during_outage(submissions: int = 2, strategy: str = "EmaCrossover",
                          alias: str = "champion", pairs: list[str] | None = None,
                          timerange: str | None = None, refused_within_s: float = 60.0,
                          submit_after_s: float = 60.0, label: str = "during-outage",
                          configuration: Configuration | None = None) -> dict[str, Any]:
    """While the database is down: call the listing until it is refused (at most
    ``refused_within_s`` simulated seconds), then, ``submit_after_s`` simulated seconds later
    (past the backend's few wall seconds of registry cache, so validation asks the registry),
    submit ``submissions`` backtests."""
    ctx = current(configuration)
    rec = _record(ctx)
    listing = f"{ctx.api_url}{LISTING}"
    deadline = ctx.now() + refused_within_s
    while True:
        a = _answer(ctx, "listing", lambda: requests.get(listing, headers=_headers(ctx),
                                                          timeout=REQUEST_TIMEOUT_S))
        rec.answers.append(a)
        if a.status != 200 or ctx.now() >= deadline:
            break
        time.sleep(0.2)
    ctx.event("load", f"strategy listing answered {a.status} ({a.reason or 'ok'})")
    until = ctx.now() + submit_after_s
    while ctx.now() < until:
        time.sleep(0.1)
    body: dict[str, Any] = {"strategy": strategy, "alias": alias,
                            "pairs": pairs or ["BTC/USDT"]}
    if timerange:
        body["timerange"] = timerange
    for i in range(submissions):
        key = f"drill-{ctx.run_id}-{label}-{i}"
        a = _answer(ctx, "submission", lambda k=key: requests.post(
            f"{ctx.api_url}/api/v1/backtests", json=body, headers=_headers(ctx, k),
            timeout=REQUEST_TIMEOUT_S))
        rec.answers.append(a)
        if a.job_id:  # accepted: accounted for at the end like every ticket
            ctx.tickets.append(Ticket(a.job_id, ctx.now(), label))
        ctx.event("load", f"backtest submission answered {a.status} ({a.reason or a.job_id})")
    return {"answers": [dict(a.__dict__) for a in rec.answers]}


def _refused_for_registry(a: Answer) -> bool:
    return a.status == 503 and "registry" in a.reason.lower() and bool(a.retry_after)


def listing_refused_naming_registry(configuration: Configuration | None = None
                                    ) -> dict[str, Any]:
    """During the outage the listing answered 503 naming the registry, with a Retry-After."""
    ctx = current(configuration)
    seen = [a for a in _record(ctx).answers if a.what == "listing"]
    if not seen:
        return holds("listing-refused-naming-registry", True, 0, "no outage yet",
                     phase="baseline").as_dict()
    refused = [a for a in seen if _refused_for_registry(a)]
    last = seen[-1]
    return holds("listing-refused-naming-registry", bool(refused), len(refused),
                 f"{len(refused)} of {len(seen)} listings refused; last: {last.status} "
                 f"{last.reason!r} Retry-After {last.retry_after}", unit="answers").as_dict()


def submissions_refused_or_accepted(accept: bool = True,
                                    configuration: Configuration | None = None
                                    ) -> dict[str, Any]:
    """Each submission during the outage was refused at validation with 503, a reason naming
    the registry and a Retry-After, or (``accept``) accepted: its ticket must then settle."""
    ctx = current(configuration)
    seen = [a for a in _record(ctx).answers if a.what == "submission"]
    if not seen:
        return holds("submissions-answered", True, 0, "no outage yet",
                     phase="baseline").as_dict()
    allowed = (200, 202) if accept else ()
    bad = [a for a in seen if a.status not in allowed and not _refused_for_registry(a)]
    accepted = sum(1 for a in seen if a.status in (200, 202))
    detail = (f"{accepted} accepted, {len(seen) - accepted - len(bad)} refused naming the "
              f"registry" + ("; wrong answers: " + "; ".join(
                  f"{a.status} {a.reason!r}" for a in bad) if bad else ""))
    return holds("submissions-answered", not bad, len(seen) - len(bad), detail,
                 unit="submissions").as_dict()


def listing_recovers(deadline_s: float, since_mark: str | None = None,
                     baseline_wait_s: float = 900.0,
                     configuration: Configuration | None = None) -> dict[str, Any]:
    """The listing answers 200 with at least one strategy again within ``deadline_s``
    simulated seconds of ``since_mark`` (default: the fault's start). Before the fault it
    may take ``baseline_wait_s``: the backend's first listing after the stack starts (lazy
    imports, its first MLflow login) ran into the gateway's timeout on a busy machine."""
    ctx = current(configuration)

    def check() -> tuple[bool, str]:
        try:
            r = requests.get(f"{ctx.api_url}{LISTING}", headers=_headers(ctx),
                             timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as exc:
            return False, f"no answer: {type(exc).__name__}"
        if r.status_code != 200:
            return False, f"{r.status_code} {r.text[:200]}"
        n = len(r.json().get("strategies") or [])
        return n > 0, f"200 with {n} strategies"

    since = ctx.marks.get(since_mark) if since_mark else None
    return recovers(ctx, "strategy-listing-recovers", check, deadline_s, since=since,
                    baseline_wait_s=baseline_wait_s).as_dict()
