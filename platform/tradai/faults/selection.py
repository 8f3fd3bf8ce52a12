"""Target selection modes: ``ALL``, ``COUNT(n)``, ``PERCENT(n)`` (FIS ``selectionMode``)."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
_MODE = re.compile(r"^(?:(ALL)|COUNT\((\d+)\)|PERCENT\((\d+)\))$")


@dataclass(frozen=True)
class SelectionMode:
    kind: str  # ALL | COUNT | PERCENT
    n: int | None = None

    def __str__(self) -> str:
        return self.kind if self.n is None else f"{self.kind}({self.n})"

    def pick(self, candidates: Sequence[T], rng: random.Random) -> list[T]:
        """Choose from ``candidates`` (already in a stable order) at random with ``rng``."""
        items = list(candidates)
        if self.kind == "ALL" or not items:
            return items
        assert self.n is not None
        if self.kind == "COUNT":
            count = min(self.n, len(items))
        else:
            # At least one of a non-empty set: PERCENT(25) of 2 resources still selects one.
            count = max(1, math.floor(len(items) * self.n / 100))
        return rng.sample(items, count)


def parse_selection_mode(text: object) -> SelectionMode:
    match = _MODE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a selection mode (ALL, COUNT(n) or PERCENT(n))")
    if match.group(1):
        return SelectionMode("ALL")
    if match.group(2) is not None:
        n = int(match.group(2))
        if n < 1:
            raise ValueError(f"{text!r}: COUNT(n) needs n >= 1")
        return SelectionMode("COUNT", n)
    n = int(match.group(3))
    if not 1 <= n <= 100:
        raise ValueError(f"{text!r}: PERCENT(n) needs n between 1 and 100")
    return SelectionMode("PERCENT", n)
