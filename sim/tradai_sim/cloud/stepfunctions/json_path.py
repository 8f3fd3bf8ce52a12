"""JSONPath: a definite path (no wildcard, filter, slice, union or descent) yields one value.

moto's ``extract_json`` returns a list for any path that steps through an array index
(``$.Containers[0].ExitCode`` gives ``[0]``), a side effect of its fix for filter queries
(getmoto/moto#7825). AWS returns the single value, and the backtest workflow reads
``$.Containers[0].ExitCode`` that way. Installed by ``tradai_sim.cloud.moto_patches`` in every
moto module that imported ``extract_json`` by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_INDEFINITE = re.compile(r"\*|\.\.|\[\?|\[[^\]]*[:,][^\]]*\]")


def is_definite(path: str) -> bool:
    return not _INDEFINITE.search(path)


def extract_json(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """Wraps ``moto...asl.utils.json_path.extract_json``."""

    def extract(path: str, data: Any) -> Any:
        if is_definite(path):
            from jsonpath_ng.ext import parse

            try:
                matches = parse(path).find(data)
            except Exception:  # moto's own parse decides what an invalid path does
                matches = []
            if len(matches) == 1:
                return matches[0].value
        return original(path, data)

    return extract
