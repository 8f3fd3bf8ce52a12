"""pulumi-drift-detector: scheduled infrastructure drift check (see tradai.drift)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from tradai.drift.infrastructure import DriftConfigError, DriftSettings, detect_drift

ALERTS_TOPIC_VAR = "TRADAI_ALERTS_TOPIC_ARN"
log = logging.getLogger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        settings = DriftSettings.from_env(os.environ)
    except DriftConfigError as exc:
        return {"status": "misconfigured", "reason": str(exc)}
    result = detect_drift(settings)
    log.info("drift check: %s", json.dumps(result))
    topic = os.environ.get(ALERTS_TOPIC_VAR)
    if result["status"] == "drift" and topic:
        from tradai.settings import aws_client

        aws_client("sns").publish(
            TopicArn=topic,
            Subject=f"Infrastructure drift in {result['stack']}",
            Message=json.dumps(result, indent=2),
        )
    return result
