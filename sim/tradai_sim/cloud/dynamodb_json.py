"""DynamoDB items answered as they are stored, not walked through moto's shape serializer, and
taken in as they were sent, not walked through its shape parser.

moto 5.2.5 serializes every response by walking the operation's output shape, member by member:
for a DynamoDB item that is one pass over the ten members of ``AttributeValue`` per attribute,
nested maps and lists included. A Query returning fifty backtest tickets spent most of its time
there, and under a backlog benchmark those reads held the emulator long enough for other
functions' calls to time out. An item moto returns is already DynamoDB JSON (``{"S": ...}``,
``{"N": "1"}``, ``{"M": {...}}``), so an ``AttributeValue`` made only of strings, numbers as
strings, booleans, null, string and number sets, maps and lists is written as it is; anything
else (binary values, a type moto might hand over) goes through moto's own path. The wire
format is the same: ``tests/unit/test_dynamodb_json.py`` compares what a client parses both ways.

The request side is the same walk in reverse: a PutItem's item went through the parser member
by member (``benchmarks/bench_emulator_calls.py`` measures a submission's calls with and
without it), and a plain ``AttributeValue`` parses to itself; binary values are base64 on the
wire and still go through moto's parser, which decodes them.

Installed by ``tradai_sim.cloud.moto_patches``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_STRINGS = ("S", "N")
_STRING_SETS = ("SS", "NS")


def plain(value: Any) -> bool:
    """An AttributeValue the shape walk would copy unchanged."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (kind, inner), = value.items()
    if kind in _STRINGS:
        return isinstance(inner, str)
    if kind == "BOOL":
        return isinstance(inner, bool)
    if kind == "NULL":
        return inner is True
    if kind in _STRING_SETS:
        return isinstance(inner, list) and all(isinstance(v, str) for v in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(
            isinstance(k, str) and plain(v) for k, v in inner.items())
    if kind == "L":
        return isinstance(inner, list) and all(plain(v) for v in inner)
    return False  # B, BS or anything unexpected: moto's serializer decides


def serialize(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps the JSON serializer's ``_serialize``."""

    def _serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if getattr(shape, "name", None) == "AttributeValue" and plain(value):
            serialized[self.get_serialized_name(shape, key)] = value
            return
        original(self, serialized, value, shape, key)

    return _serialize


def parse_structure(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps the JSON parser's ``_parse_structure``."""

    def _parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if getattr(shape, "name", None) == "AttributeValue" and plain(value):
            return value
        return original(self, shape, value)

    return _parse_structure
