"""What the drills count and check on the platform: services, tickets, candles.

Each ``*_state`` function answers ``(ok, detail)`` for one look; the extension's probes poll
them until they hold or their deadline passes.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import requests

from tradai_sim.drills.context import DrillContext
from tradai_sim.stack import readiness

LOAD_BALANCED = readiness.LOAD_BALANCED
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


def services_state(ctx: DrillContext, minimum: int = 1) -> tuple[bool, str]:
    """Every service has ``minimum`` RUNNING tasks, the load-balanced ones as many healthy
    targets (the readiness ``tradai-sim up`` waits for)."""
    services = [c for c in readiness.components(ctx.control("/status"), minimum)
                if c.name in readiness.SERVICES]
    problems = [f"{c.name}: {c.detail}" for c in services if not c.ready]
    return not problems, "; ".join(problems) or "every service running and healthy"


TICKETS_TTL_WALL_S = 1.5  # the API's per-user rate limit is shared with the drill's load


def tickets(ctx: DrillContext) -> list[dict[str, Any]]:
    """The drill's tickets as their owners see them (the API's list, newest first), read at
    most every ``TICKETS_TTL_WALL_S``; a ticket its owner's list does not show is LOST."""
    cached = ctx.status_cache.get("_tickets")
    if cached is not None and time.monotonic() - cached[0] < TICKETS_TTL_WALL_S:
        return list(cached[1])
    seen: dict[str, dict[str, Any]] = {}
    for owner in sorted({t.owner or "" for t in ctx.tickets}):
        wanted = {t.job_id for t in ctx.tickets if (t.owner or "") == owner}
        seen.update(_listed(ctx, _token(ctx, owner), wanted))
    jobs = [seen.get(t.job_id) or {"job_id": t.job_id, "status": "LOST",
                                   "error": "the API does not list it"} for t in ctx.tickets]
    ctx.status_cache["_tickets"] = (time.monotonic(), jobs)
    return list(jobs)


def _token(ctx: DrillContext, owner: str) -> str:
    if not owner:
        return ctx.token()
    from tradai_sim.drills.backlog import pool

    return pool(ctx).token(owner)


def _listed(ctx: DrillContext, token: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    cursor = None
    while wanted - seen.keys():
        r = requests.get(f"{ctx.api_url}/api/v1/backtests", timeout=30,
                         params={"limit": 100, **({"cursor": cursor} if cursor else {})},
                         headers={"Authorization": f"Bearer {token}"})
        if r.status_code == 429:
            raise RuntimeError("the API's rate limit: will look again")
        r.raise_for_status()
        page = r.json()
        seen.update({j["job_id"]: j for j in page["backtests"] if j["job_id"] in wanted})
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return seen


def tickets_state(ctx: DrillContext, require_completed: bool = False) -> tuple[bool, str]:
    jobs = tickets(ctx)
    counts = Counter(j["status"] for j in jobs)
    problems = []
    for j in jobs:
        if j["status"] not in TERMINAL:
            problems.append(f"{j['job_id'][:8]} {j['status']}")
        elif j["status"] == "FAILED" and (require_completed or not j.get("error")):
            problems.append(f"{j['job_id'][:8]} FAILED: {j.get('error') or 'no reason given'}")
        elif j["status"] == "CANCELLED" and (require_completed or not j.get("cancelled_by")):
            problems.append(f"{j['job_id'][:8]} CANCELLED by {j.get('cancelled_by') or 'nobody'}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return not problems, summary + (f" ({'; '.join(problems[:5])})" if problems else "")


LOOKBACK_S = 7200.0  # the series is checked from this long before the drill started


def candles_state(ctx: DrillContext, pairs: list[str], timeframe: str) -> tuple[bool, str]:
    """No duplicate and no gap from two hours before the drill, and up to date (the last
    closed candle, allowing one sync period)."""
    from tradai.data.keys import SeriesKey
    from tradai.data.timeframes import timeframe_ms

    store = _store(ctx)
    step = timeframe_ms(timeframe)
    start_ms = int((ctx.started_at - LOOKBACK_S) * 1000) // step * step
    last_closed = int(ctx.now() * 1000) // step * step - step
    problems = []
    for pair in pairs:
        times = store.open_times(SeriesKey("binance", pair, timeframe), start_ms, None)
        if len(times) == 0:
            problems.append(f"{pair}: no candles in the last {LOOKBACK_S / 3600:g} h")
            continue
        diffs = times[1:] - times[:-1]
        duplicates = int((diffs == 0).sum())
        gaps = int((diffs > step).sum())
        missing = int(((diffs[diffs > step] // step) - 1).sum())
        behind = (last_closed - int(times[-1])) // step
        if duplicates:
            problems.append(f"{pair}: {duplicates} duplicate candle(s)")
        if gaps:
            problems.append(f"{pair}: {missing} candle(s) missing in {gaps} gap(s)")
        if behind > 1:
            problems.append(f"{pair}: {behind} closed candle(s) not stored yet")
    return not problems, "; ".join(problems) or f"{', '.join(pairs)} {timeframe} contiguous"


def _store(ctx: DrillContext) -> Any:
    cached = ctx.status_cache.get("_store")
    if cached is None:
        from tradai.data.settings import DataSettings
        from tradai.data.store import OhlcvStore

        _arcticdb_log_to_file(ctx)

        cached = OhlcvStore.from_settings(DataSettings(
            AWS_ENDPOINT_URL=ctx.endpoint, AWS_DEFAULT_REGION=ctx.region,
            AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
            TRADAI_BUCKET_ARCTICDB=ctx.name("arcticdb")))  # type: ignore[call-arg]
        ctx.status_cache["_store"] = cached
    return cached


def _arcticdb_log_to_file(ctx: DrillContext) -> None:
    """ArcticDB's own (C++) log goes to the stack's log folder, not the drill's console: a
    check that meets a version the data service has just pruned reads again on a fresh
    connection (``OhlcvStore``), and ArcticDB's warning about the first attempt ("Failed to
    find segment for key ...") is no finding of the drill."""
    if ctx.state_dir is None:
        return
    import arcticdb.config

    folder = ctx.state_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    arcticdb.config.set_log_level(default_level="WARN", console_output=False,
                                  file_output_path=str(folder / "arcticdb-drills.log"))
