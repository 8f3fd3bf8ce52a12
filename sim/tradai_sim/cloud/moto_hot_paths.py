"""Cheaper versions of moto helpers that every request pays for, with the same results.

Found by a CPU profile of the emulator under the gateway benchmark's submissions; what they
save is measured by ``benchmarks/bench_emulator_calls.py`` against moto's own helpers
(docs/performance.md). Each keeps moto's answer (``tests/unit/test_moto_hot_paths.py``); only
the work is less.
"""

from __future__ import annotations

import functools
import inspect
import string
from collections.abc import Callable
from typing import Any

# moto's SQS Queue.attributes converts ~20 attribute names on each call, and SendMessage reads
# it four times; every response converts its action name. A pure function of a short string.
_CAMEL_CACHE_SIZE = 4096


def cached_camelcase(original: Callable[[str], str]) -> Callable[[str], str]:
    return functools.lru_cache(maxsize=_CAMEL_CACHE_SIZE)(original)


def cached_method_names(original: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
    """moto lists a response class's functions with ``inspect.getmembers`` on every request.
    Patches replace methods, never add names a request could reach, so a class's list holds."""
    names: dict[object, list[str]] = {}

    def method_names_from_class(clazz: object) -> list[str]:
        found = names.get(clazz)
        if found is None:
            found = names[clazz] = [n for n, _ in inspect.getmembers(clazz, inspect.isfunction)]
        return list(found)

    return method_names_from_class


def item_init(original: Callable[..., None]) -> Callable[..., None]:
    """moto's LimitedSizeDict sums the whole item's size again for each attribute it sets
    (quadratic in the attributes). An item is built here with one sum: the same
    ItemSizeTooLarge, since the size only grows as attributes are added."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        typed = {key: DynamoType(value) for key, value in attrs.items()}
        # moto's limit and its count: names and values, 405,000 bytes (its comment: AWS's
        # 400 KB measured between 409 and 410 KB).
        if sum(bytesize(k) + v.size() for k, v in typed.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, typed)

    return __init__


def random_string(original: Callable[..., str]) -> Callable[..., str]:
    """moto draws each character of a request id (52) with its own ``choice`` call; one
    ``choices`` call draws them all from the same seeded generator."""

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True,
                          lower_case: bool = False) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        drawn = "".join(self.choices(pool, k=length))
        return drawn.lower() if lower_case else drawn

    return get_random_string


def receipt_handle(original: Callable[[], str]) -> Callable[[], str]:
    from moto.moto_api._internal import mock_random

    def generate_receipt_handle() -> str:
        # the length moto uses (SQS documents up to 1,024 characters)
        return "".join(mock_random.choices(string.ascii_lowercase, k=185))

    return generate_receipt_handle
