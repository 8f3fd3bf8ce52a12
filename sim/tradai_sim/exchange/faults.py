"""Fault knobs for drills: latency, forced 429s, bursts of 5xx, a full outage.

Durations are in simulated seconds of the shared clock (the drill's time). Outage answers
``503`` at once by default; ``outage_mode: "close"`` drops the connection without a response
instead (the nearest a live server gets to "connection refused": clients see a network error).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

OUTAGE_MODES = ("503", "close")


@dataclass(frozen=True)
class Verdict:
    """What the fault state wants done with one request before it is served."""

    action: str  # "serve", "close", "status", "429"
    status: int = 200
    retry_after_s: float = 0.0  # for "429": simulated seconds left in the forced window
    retry_after_fixed: int | None = None  # for "429": the header value the drill asked for


class FaultError(ValueError):
    """A malformed fault request (answered 400 by the admin endpoint)."""


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.latency_ms = 0.0
            self.force_429_until: float | None = None
            self.retry_after: int | None = None
            self.burst_status = 503
            self.burst_remaining = 0
            self.outage = False
            self.outage_mode = "503"

    def update(self, body: dict[str, Any], now_s: float) -> None:
        """Apply the keys present in ``body``; others keep their value."""
        with self._lock:
            if "latency_ms" in body:
                self.latency_ms = _number(body, "latency_ms", minimum=0)
            if "force_429_for_seconds" in body:
                secs = _number(body, "force_429_for_seconds", minimum=0)
                self.force_429_until = now_s + secs if secs > 0 else None
            if "retry_after" in body:
                v = body["retry_after"]
                self.retry_after = None if v is None else int(_number(body, "retry_after", 0))
            if "error_burst" in body:
                burst = body["error_burst"] or {}
                if not isinstance(burst, dict):
                    raise FaultError("error_burst must be an object {status, count}")
                status = int(_number(burst, "status", 500)) if "status" in burst else 503
                if not 500 <= status <= 599:
                    raise FaultError("error_burst.status must be a 5xx status")
                self.burst_status = status
                self.burst_remaining = int(_number(burst, "count", 0)) if "count" in burst else 1
            if "outage" in body:
                self.outage = bool(body["outage"])
            if "outage_mode" in body:
                if body["outage_mode"] not in OUTAGE_MODES:
                    raise FaultError(f"outage_mode must be one of {OUTAGE_MODES}")
                self.outage_mode = body["outage_mode"]

    def verdict(self, now_s: float) -> Verdict:
        """Decide for one request; consumes one unit of an error burst."""
        with self._lock:
            if self.outage:
                if self.outage_mode == "close":
                    return Verdict("close")
                return Verdict("status", 503)
            if self.burst_remaining > 0:
                self.burst_remaining -= 1
                return Verdict("status", self.burst_status)
            if self.force_429_until is not None:
                if now_s < self.force_429_until:
                    return Verdict("429", 429, self.force_429_until - now_s, self.retry_after)
                self.force_429_until = None
            return Verdict("serve")

    def snapshot(self, now_s: float) -> dict[str, Any]:
        with self._lock:
            left = 0.0
            if self.force_429_until is not None:
                left = max(0.0, self.force_429_until - now_s)
            return {
                "latency_ms": self.latency_ms,
                "force_429_seconds_left": left,
                "retry_after": self.retry_after,
                "error_burst": {"status": self.burst_status, "count": self.burst_remaining},
                "outage": self.outage,
                "outage_mode": self.outage_mode,
            }


def _number(body: dict[str, Any], key: str, minimum: float) -> float:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise FaultError(f"{key} must be a number >= {minimum}")
    return float(value)
