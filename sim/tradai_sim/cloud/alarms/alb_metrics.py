"""The AWS/ApplicationELB metrics the local cloud derives every minute from the ALB stand-in.

``HealthyHostCount`` and ``UnHealthyHostCount`` per target group of a load-balanced service,
with the dimensions ``TargetGroup`` and ``LoadBalancer``, from the stand-in's
describe-target-health (``GET {alb}/_alb/targets``). A target still in its initial health
check is neither. When the ALB does not answer nothing is published: the data is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import httpx

from tradai_sim.cloud.alarms.datum import Datum
from tradai_sim.cloud.alarms.dimensions import target_group_dimensions

NAMESPACE = "AWS/ApplicationELB"
TARGETS_PATH = "/_alb/targets"
TIMEOUT_SECONDS = 2.0


def target_metrics(targets: dict[str, list[dict[str, Any]]], services: Iterable[str],
                   physical: Callable[[str], str], at: float) -> list[Datum]:
    out = []
    for service in services:
        states = [t.get("state") for t in targets.get(service, [])]
        dims = target_group_dimensions(physical, service)
        out.append(Datum(NAMESPACE, "HealthyHostCount", float(states.count("healthy")), dims, at))
        out.append(Datum(NAMESPACE, "UnHealthyHostCount", float(states.count("unhealthy")), dims,
                         at))
    return out


@lru_cache(maxsize=1)
def _client() -> httpx.Client:
    """One client for every sample: a new one builds an SSL context (milliseconds of CPU)."""
    return httpx.Client(timeout=TIMEOUT_SECONDS)


def fetch_targets(alb_url: str) -> dict[str, list[dict[str, Any]]]:
    resp = _client().get(alb_url.rstrip("/") + TARGETS_PATH)
    resp.raise_for_status()
    return dict(resp.json())
