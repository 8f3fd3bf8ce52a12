"""The one item per trading session in the ``trading-heartbeats`` table, shared by its writers.

Three writers own disjoint attributes of the item, each with UpdateItem on its own attributes
only, so none overwrites another's:

- the backend API (``tradai.trading.sessions``): the session itself (``SESSION_ATTRIBUTES``);
- the strategy container in dry-run or live mode: its heartbeat (``HEARTBEAT_ATTRIBUTES``),
  every ``HEARTBEAT_PERIOD_SECONDS`` of platform-clock time;
- ``trading-heartbeat-check``: staleness and its alert state (``MONITOR_ATTRIBUTES``).

Times are platform-clock epoch seconds (``tradai.clock``), so the container, the monitors and
the API agree under the local harness's dilated clock and on AWS alike.
"""

from __future__ import annotations

import re
from typing import Any

# Key: one session per strategy and mode (a second one is refused).
HASH_KEY = "strategy_id"

MODES = ("dry-run", "live")
HEARTBEAT_PERIOD_SECONDS = 30.0
STALE_AFTER_SECONDS = 180.0  # "a heartbeat older than 3 minutes marks the session STALE"
RECENT_TRADES_KEPT = 20

# Session status, as the API shows it.
STARTING = "STARTING"  # service created, no heartbeat yet
RUNNING = "RUNNING"  # heartbeats arrive
STALE = "STALE"  # the monitor found the last heartbeat older than STALE_AFTER_SECONDS
STOPPING = "STOPPING"  # DELETE accepted, the service is being deleted
STOPPED = "STOPPED"
FAILED = "FAILED"  # the container reported an error it cannot recover from (``error``)

SESSION_ATTRIBUTES = (
    "strategy_id",  # session id, see session_id()
    "owner",  # the Cognito subject that started it
    "strategy",  # registered model name in MLflow
    "ref",  # what it follows: an alias ("champion") or a version number as text
    "mode",  # "dry-run" | "live"
    "status",  # the API's own: STARTING, STOPPING, STOPPED; shown through display_status()
    "service_name",  # the ECS service running its one task
    "service_arn",
    "task_definition_arn",
    "capacity_provider",  # FARGATE_SPOT (dry-run) or FARGATE (live)
    "created_at",  # epoch seconds
    "stopped_at",
    "stopped_by",
)
HEARTBEAT_ATTRIBUTES = (
    "last_heartbeat",  # epoch seconds of the container's last write
    "version",  # the registry version it runs now (int)
    "version_since",  # epoch seconds at which the session chose it (start, or the hot swap)
    "last_candle",  # ISO-8601 open time of the newest closed candle the bot has
    "open_trades",  # int
    "profit_abs",  # closed + open profit in stake currency (float as Decimal)
    "profit_pct",  # of the starting balance
    "loop_latency_ms",  # the bot's last process() call
    "recent_trades",  # list of maps, newest first, at most RECENT_TRADES_KEPT
    "task_arn",  # the task that wrote it
    "heartbeats",  # a counter, +1 per write
    "error",  # set with status FAILED
    "ttl",  # now + ttl_days of the table: a session that stopped long ago disappears
)
MONITOR_ATTRIBUTES = (
    "stale_since",  # epoch seconds at which the monitor marked it STALE (absent when fresh)
    "stale_alerted_at",  # the one alert of the incident was published then
    "recovered_at",  # the last recovery notice
    "incidents",  # counter of stale incidents
)

_NAME = re.compile(r"[^a-z0-9]+")


def session_id(strategy: str, mode: str) -> str:
    """``emacrossover-dry-run``: one per strategy and mode, usable in ECS service names."""
    return f"{_NAME.sub('-', strategy.lower()).strip('-')}-{mode}"


def display_status(item: dict[str, Any]) -> str:
    """The status the API shows, from the attributes each writer owns: the API's own
    (STOPPING/STOPPED), then the container's FAILED, the monitor's STALE, then RUNNING once a
    heartbeat arrived, STARTING before."""
    own = item.get("status")
    if own in (STOPPING, STOPPED):
        return str(own)
    if item.get("error"):
        return FAILED
    if item.get("stale_since"):
        return STALE
    if item.get("last_heartbeat") is not None:
        return RUNNING
    return STARTING
