"""One health probe: GET the service's health path with a short timeout.

The timeout is wall seconds: it bounds the service's answer, which is real work that a dilated
clock does not speed up (as an ALB health check's timeout does). Healthy is a 2xx answer in
time; anything else (another status, a refused or reset connection, a timeout) is a failure
with its reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ProbeResult:
    service: str
    url: str
    healthy: bool
    status_code: int | None
    reason: str  # "200 OK", "503 Service Unavailable", "timed out after 5 s", ...
    latency_ms: float


def probe(service: str, url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS,
          client: httpx.Client | None = None) -> ProbeResult:
    started = time.monotonic()
    try:
        if client is not None:
            resp = client.get(url, timeout=timeout)
        else:
            resp = httpx.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return _result(service, url, False, None, f"timed out after {timeout:g} s", started)
    except httpx.HTTPError as exc:
        return _result(service, url, False, None, f"{type(exc).__name__}: {exc}"[:200],
                       started)
    reason = f"{resp.status_code} {resp.reason_phrase}".strip()
    return _result(service, url, resp.is_success, resp.status_code, reason, started)


def _result(service: str, url: str, healthy: bool, code: int | None, reason: str,
            started: float) -> ProbeResult:
    return ProbeResult(service, url, healthy, code, reason,
                       round((time.monotonic() - started) * 1000.0, 1))
