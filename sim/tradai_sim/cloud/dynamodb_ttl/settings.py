"""How long the TTL part waits before deleting an expired item, and which tables hold
wall-clock TTL values.

Deletion lag (simulated seconds): ``TRADAI_SIM_TTL_DELETION_LAG`` in the cloud's environment,
default two simulated days, the bound AWS documents ("DynamoDB typically deletes expired items
within two days of expiration", UpdateTimeToLive API reference): a reader that forgets to
filter expired items meets them locally for as long as it could on AWS (at time scale 20, 2.4
wall hours; a drill never sees an expired item disappear). ``POST /_sim/dynamodb-ttl`` with
``{"lag_seconds": N}`` changes the default, with ``{"table": T, "lag_seconds": N}`` one table's
(``null`` drops the table's own value).

Wall-clock tables: Powertools' idempotency layer stamps ``expiration`` from
``datetime.now()``, i.e. wall epoch seconds, while every other TTL attribute of the stack is
written with the simulated clock. The sweeper reads such a table's values as wall time (they
are mapped onto the simulated clock), so a record is deleted when Powertools itself stops
honouring it, plus the lag, not at once because the simulated clock is ahead of wall time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

LAG_ENV = "TRADAI_SIM_TTL_DELETION_LAG"
DEFAULT_LAG_SECONDS = 2 * 86400.0
WALL_CLOCK_LOGICAL_TABLES = ("idempotency",)  # written by Powertools (wall clock)


class BadSetting(ValueError):
    pass


def lag_from_env(environ: dict[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    raw = env.get(LAG_ENV)
    if raw is None or raw == "":
        return DEFAULT_LAG_SECONDS
    return _lag(raw, LAG_ENV)


def _lag(raw: Any, what: str) -> float:
    try:
        lag = float(raw)
    except (TypeError, ValueError):
        raise BadSetting(f"{what} must be a number of simulated seconds, got {raw!r}") from None
    if lag < 0 or lag != lag:
        raise BadSetting(f"{what} must be >= 0, got {raw!r}")
    return lag


@dataclass
class TtlSettings:
    default_lag: float = DEFAULT_LAG_SECONDS
    table_lags: dict[str, float] = field(default_factory=dict)
    wall_clock_tables: frozenset[str] = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def lag(self, table: str) -> float:
        with self._lock:
            return self.table_lags.get(table, self.default_lag)

    def update(self, body: dict[str, Any]) -> None:
        """Apply a control API body: ``lag_seconds`` for ``table``, or the default."""
        if "lag_seconds" not in body:
            raise BadSetting("give lag_seconds (and table to set one table's lag)")
        table, raw = body.get("table"), body["lag_seconds"]
        with self._lock:
            if table is None:
                self.default_lag = _lag(raw, "lag_seconds")
            elif raw is None:
                self.table_lags.pop(str(table), None)
            else:
                self.table_lags[str(table)] = _lag(raw, "lag_seconds")

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {"deletion_lag_seconds": self.default_lag,
                    "table_lag_seconds": dict(self.table_lags),
                    "wall_clock_tables": sorted(self.wall_clock_tables)}
