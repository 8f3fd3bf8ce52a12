"""What a target receives: the "Scheduled Event" EventBridge sends, or the target's own input."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


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
        text = _fill_template(transformer["InputTemplate"], values)
        try:
            return json.loads(text)
        except ValueError:
            return text  # a plain-text template is delivered as a JSON string
    return event


def _fill_template(template: str, values: dict[str, Any]) -> str:
    """Replace ``<name>``: raw inside a JSON string literal, as JSON outside one (so a string
    value gains its quotes), which is how EventBridge fills a JSON template."""
    out, in_string, i = [], False, 0
    json_template = template.lstrip().startswith(("{", "["))
    while i < len(template):
        m = _PLACEHOLDER.match(template, i)
        if m and m.group(1) in values:
            v = values[m.group(1)]
            raw = isinstance(v, str) and (in_string or not json_template)
            out.append(v if raw else json.dumps(v))
            i = m.end()
            continue
        ch = template[i]
        if ch == '"' and (i == 0 or template[i - 1] != "\\"):
            in_string = not in_string
        out.append(ch)
        i += 1
    return "".join(out)
