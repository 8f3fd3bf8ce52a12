"""Trading sessions in drills: started and stopped through the platform's API (the same calls
on AWS), their heartbeats read back through it, and the monitor's alerts read from SNS."""

from __future__ import annotations

import json
from typing import Any

import requests

from tradai_sim.drills.context import DrillContext

CALL_TIMEOUT_WALL_S = 30.0
STALE_PREFIX = "STALE trading session "
RECOVERED_PREFIX = "RECOVERED trading session "


def _api(ctx: DrillContext, method: str, path: str, body: dict[str, Any] | None = None
         ) -> requests.Response:
    return requests.request(method, f"{ctx.api_url}/api/v1/trading/sessions{path}", json=body,
                            headers={"Authorization": f"Bearer {ctx.token()}"},
                            timeout=CALL_TIMEOUT_WALL_S)


def start(ctx: DrillContext, strategy: str, alias: str, mode: str) -> str:
    resp = _api(ctx, "POST", "", {"strategy": strategy, "alias": alias, "mode": mode})
    if resp.status_code != 201:
        raise RuntimeError(f"session for {strategy} refused: {resp.status_code} {resp.text}")
    return str(resp.json()["session_id"])


def show(ctx: DrillContext, session_id: str) -> dict[str, Any] | None:
    resp = _api(ctx, "GET", f"/{session_id}")
    return dict(resp.json()) if resp.status_code == 200 else None


def stop(ctx: DrillContext, session_id: str) -> int:
    return _api(ctx, "DELETE", f"/{session_id}").status_code


def alerts(ctx: DrillContext, prefix: str, session_id: str) -> list[dict[str, Any]]:
    """The monitor's alerts of one kind for one session since the drill started, oldest first,
    each with the simulated time SNS got it and its JSON body."""
    published = ctx.control(f"/sns/published?since={ctx.started_at}").get("messages", [])
    out = []
    for m in published:
        subject = m.get("subject") or ""
        if subject.startswith(f"{prefix}{session_id}:"):
            try:
                body = json.loads(m.get("message") or "{}")
            except ValueError:
                body = {}
            out.append({"at": float(m["simulated_time"]), "subject": subject, "body": body})
    return sorted(out, key=lambda a: a["at"])
