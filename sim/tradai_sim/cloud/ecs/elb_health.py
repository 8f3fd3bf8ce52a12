"""The target health the ECS service scheduler acts on: the ALB stand-in's
describe-target-health (``GET {alb}/_alb/targets``), read at most every ``MAX_AGE_WALL``.

AWS: a task of a load-balanced service whose target its target group reports unhealthy is
stopped and replaced by the scheduler, once the service's healthCheckGracePeriodSeconds has
passed since the task started (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/
API_CreateService.html). When the ALB does not answer nothing is known, and nothing is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger(__name__)

TARGETS_PATH = "/_alb/targets"
MAX_AGE_WALL = 1.0  # how stale a health view may be (the ALB re-reads ECS every second)
TIMEOUT_WALL = 2.0
UNHEALTHY = "unhealthy"

Fetch = Callable[[], dict[str, list[dict[str, Any]]]]


def unhealthy_reason(target_group_arn: str) -> str:
    """The stoppedReason ECS gives a task it replaced for failing its ELB health checks."""
    return f"Task failed ELB health checks in (target-group {target_group_arn})"


class ElbHealth:
    def __init__(self, alb_url: Callable[[], str | None], fetch: Fetch | None = None) -> None:
        self._alb_url = alb_url
        self._fetch = fetch or self._http
        self._at = 0.0
        self._unhealthy: dict[str, str] = {}
        # One client, one kept connection: ``httpx.get`` builds a client (and its SSL context)
        # per call, which was most of this lookup's CPU, once a second for the stack's life.
        self._client: httpx.Client | None = None

    def _http(self) -> dict[str, list[dict[str, Any]]]:
        url = self._alb_url()
        if url is None:
            return {}
        if self._client is None:
            self._client = httpx.Client(timeout=TIMEOUT_WALL)
        resp = self._client.get(url.rstrip("/") + TARGETS_PATH)
        resp.raise_for_status()
        return dict(resp.json())

    def unhealthy(self) -> dict[str, str]:
        """Task id -> the ARN of the target group that reports it unhealthy."""
        if time.monotonic() - self._at < MAX_AGE_WALL:
            return self._unhealthy
        self._at = time.monotonic()
        try:
            groups = self._fetch()
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("target health unavailable: %s", exc)
            self._unhealthy = {}  # unknown health is never a reason to stop a task
            return self._unhealthy
        self._unhealthy = {t["task_id"]: t["target_group_arn"]
                           for targets in groups.values() for t in targets
                           if t.get("state") == UNHEALTHY and t.get("target_group_arn")}
        return self._unhealthy
