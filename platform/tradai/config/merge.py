"""Deep merge of config layers: later layers win.

Mappings merge key by key, recursively; anything else (lists included: a pair whitelist is
replaced, never concatenated) is replaced by the later layer. ``None`` in a later layer
removes the key, so an override can take a base setting away.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def deep_merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            _merge_into(merged, layer)
    return merged


def _merge_into(target: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        elif isinstance(value, Mapping):
            target[key] = deep_merge(value)  # a copy, with its own None keys dropped
        else:
            target[key] = copy.deepcopy(value)
