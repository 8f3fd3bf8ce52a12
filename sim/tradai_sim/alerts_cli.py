"""``tradai-sim alerts``: what the stack's SNS topics published (alarm notifications among
them), oldest first, newest last; ``--follow`` keeps printing new ones as they come."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import requests

from tradai_sim.stack import launcher
from tradai_sim.stack.launcher import StackError
from tradai_sim.stack.state import DEFAULT_STATE_DIR

ROUTE = "/_sim/sns/published"
FOLLOW_POLL_SECONDS = 0.5
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str) -> dict[str, str]:
    """Route parameters for ``--since``: a simulated instant (ISO 8601) or a duration ago."""
    found = _DURATION.match(value.strip())
    if found:
        return {"within": str(float(found[1]) * _UNIT_SECONDS[found[2]])}
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is neither an ISO 8601 time nor a duration such "
                                 f"as 30s, 15m, 2h, 1d") from exc
    if when.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone; simulated times are UTC, add Z")
    return {"since": repr(when.timestamp())}


def fetch(endpoint: str, params: dict[str, str]) -> dict[str, Any]:
    try:
        resp = requests.get(endpoint + ROUTE, params=params, timeout=10)
    except requests.RequestException as exc:
        raise StackError(f"the stack at {endpoint} does not answer ({type(exc).__name__})") \
            from exc
    if resp.status_code != 200:
        raise StackError(f"the stack at {endpoint} answered {resp.status_code} to {ROUTE}: "
                         f"{resp.text[:200]}")
    return dict(resp.json())


def render(item: dict[str, Any]) -> str:
    subject = item["subject"] if item["subject"] is not None else "(no subject)"
    body = "\n".join("  " + line for line in str(item["message"]).splitlines() or [""])
    return f"{item['simulated_iso']}  {item['topic']}  {subject}\n{body}"


def _emit(items: list[dict[str, Any]], as_json: bool) -> None:
    for item in items:
        click.echo(json.dumps(item) if as_json else render(item))
    sys.stdout.flush()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command()
@click.option("--topic", help="Only this topic: its name, ARN, or the end of its name "
                               "(alerts matches tradai-local-alerts).")
@click.option("--since", help="Simulated time from which to list: ISO 8601 "
                               "(2026-12-02T10:00:00Z) or a duration ago (30s, 15m, 2h, 1d).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new messages (Ctrl-C stops).")
@click.option("--state-dir", type=click.Path(path_type=Path), default=DEFAULT_STATE_DIR,
              show_default=True, help="Where the stack keeps its state and logs.")
def alerts(topic: str | None, since: str | None, as_json: bool, follow: bool,
           state_dir: Path) -> None:
    """List what the stack's SNS topics published: subject, simulated time, message."""
    params = parse_since(since) if since else {}
    if topic:
        params["topic"] = topic
    try:
        rec = launcher.running_stack(state_dir)
        if rec is None:
            raise StackError(f"no stack is running in {state_dir}; start one with "
                             f"`tradai-sim up --detach`")
        answer = fetch(rec.endpoint, params)
        _emit(answer["messages"], as_json)
        if not follow:
            return
        params.pop("within", None)  # from here on: whatever comes after what was listed
        # Ctrl-C (or a TERM) ends the follow cleanly, even when started from a shell or a
        # background job that ignores SIGINT (Python keeps an inherited SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while True:
            last = answer["last_seq"]
            time.sleep(FOLLOW_POLL_SECONDS)
            answer = fetch(rec.endpoint, {**params, "after": str(last)})
            _emit(answer["messages"], as_json)
    except StackError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        return
