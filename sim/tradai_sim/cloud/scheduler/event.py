"""What a target receives: the "Scheduled Event" EventBridge sends, or the target's own input."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any


def iso_z(sim_ts: float) -> str:
    """EventBridge's ``time`` format: whole seconds, UTC, ``Z``."""
    return datetime.fromtimestamp(sim_ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def scheduled_event(rule_arn: str, sim_ts: float, account: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": iso_z(sim_ts),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def _json_path(event: Any, path: str) -> Any:
    """The simple JSONPath subset EventBridge input paths use in practice: ``$.a.b``."""
    node = event
    for key in [k for k in path.removeprefix("$").split(".") if k]:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """Apply the target's Input / InputPath / InputTransformer, as EventBridge does."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        values = {k: _json_path(event, p)
                  for k, p in transformer.get("InputPathsMap", {}).items()}

        def fill(m: re.Match[str]) -> str:
            v = values.get(m.group(1))
            return v if isinstance(v, str) else json.dumps(v)

        text = re.sub(r"<([A-Za-z0-9_.-]+)>", fill, transformer["InputTemplate"])
        try:
            return json.loads(text)
        except ValueError:
            return text  # a plain-text template is delivered as a JSON string
    return event
