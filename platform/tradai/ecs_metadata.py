"""What a container on ECS learns about its own task: the task metadata endpoint (v4).

ECS injects ``ECS_CONTAINER_METADATA_URI_V4`` into every container of a Fargate task (platform
1.4.0 and later); ``${URI}/task`` answers the task's ARN, cluster, family and revision,
Availability Zone and containers
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html).
The platform asks it rather than being told by variables of its own, which a deployment would
have to set and AWS does not.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

URI_ENV = "ECS_CONTAINER_METADATA_URI_V4"
TIMEOUT_S = 2.0  # link-local, answered by the ECS agent: fast, or not there at all


def task_metadata(env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The task's metadata, or None outside ECS (no URI) or when the endpoint fails (logged:
    what the caller does with it, such as naming the task in heartbeats, is not worth failing
    the container over)."""
    base = (os.environ if env is None else env).get(URI_ENV)
    if not base:
        return None
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/task", timeout=TIMEOUT_S) as resp:
            doc = json.loads(resp.read())
    except (OSError, ValueError) as exc:  # URLError, timeouts and bad JSON
        log.warning("ECS task metadata unavailable at %s: %s", base, exc)
        return None
    return doc if isinstance(doc, dict) else None


def task_arn(env: Mapping[str, str] | None = None) -> str | None:
    doc = task_metadata(env)
    arn = doc.get("TaskARN") if doc else None
    return str(arn) if arn else None
