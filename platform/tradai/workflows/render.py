"""Fill an ASL file's ``${...}`` placeholders with deployed resource identifiers.

The local bootstrap and the Pulumi program both call ``render_asl`` on the same packaged file,
so the workflow that runs locally is the workflow deployed to AWS.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z]+)(?::([A-Za-z0-9._-]+))?\}$")


class AslRenderError(ValueError):
    pass


def load_asl(filename: str) -> dict[str, Any]:
    return json.loads(resources.files("tradai.workflows").joinpath(filename).read_text())


def placeholders(asl: dict[str, Any]) -> set[str]:
    """Every ``Kind`` or ``Kind:name`` placeholder an ASL document needs."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            m = _PLACEHOLDER.match(node)
            if m:
                found.add(m.group(1) + (f":{m.group(2)}" if m.group(2) else ""))

    walk(asl)
    return found


def render_asl(asl: dict[str, Any], values: dict[str, Any]) -> str:
    """Replace each whole-string placeholder by its value (which may be a list)."""
    missing = placeholders(asl) - values.keys()
    if missing:
        raise AslRenderError(f"ASL placeholders without a value: {sorted(missing)}")

    def sub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: sub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [sub(v) for v in node]
        if isinstance(node, str):
            m = _PLACEHOLDER.match(node)
            if m:
                return values[m.group(1) + (f":{m.group(2)}" if m.group(2) else "")]
        return node

    return json.dumps(sub(asl), indent=2)
