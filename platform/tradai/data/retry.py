"""Exponential backoff with a cap and a maximum number of attempts (pure policy + a runner).

Waits are wall seconds: they pace real sockets, and the exchange's ``Retry-After`` header is
already expressed in wall seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
RETRY_AFTER_CAP_S = 60.0  # never trust a Retry-After beyond a minute


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 8.0
    max_attempts: int = 6

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        wait = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        if retry_after_s is not None and retry_after_s > 0:
            wait = max(wait, min(retry_after_s, RETRY_AFTER_CAP_S))
        return wait


class GaveUp(Exception):
    """The last retryable error, after ``attempts`` attempts."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        super().__init__(f"{type(last).__name__} after {attempts} attempts: {last}")
        self.last = last
        self.attempts = attempts


def call_with_backoff(
    fn: Callable[[], T],
    backoff: Backoff,
    retryable: tuple[type[BaseException], ...],
    *,
    retry_after: Callable[[BaseException], float | None] = lambda exc: None,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``fn()``, retried on ``retryable`` errors; raises :class:`GaveUp` when attempts run out.
    Other errors propagate at once."""
    attempt = 1
    while True:
        try:
            return fn()
        except retryable as exc:
            if attempt >= backoff.max_attempts:
                raise GaveUp(exc, attempt) from exc
            wait = backoff.delay(attempt, retry_after(exc))
            if on_retry is not None:
                on_retry(exc, attempt, wait)
            sleep(wait)
            attempt += 1
