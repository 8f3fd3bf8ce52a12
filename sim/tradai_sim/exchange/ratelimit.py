"""Binance's request-weight budget: fixed one-minute windows, weight charged per request.

Windows are minutes of the shared clock (simulated time, like every timer the harness owns);
``Retry-After`` is converted to wall seconds by the server, since that is what a client sleeps.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

BINANCE_WEIGHT_PER_MINUTE = 6000


@dataclass(frozen=True)
class Charge:
    allowed: bool
    used: int  # weight used in the current window, including this request if allowed
    retry_after_s: float  # simulated seconds until the window resets (0 when allowed)


class WeightLimiter:
    def __init__(
        self, weight_per_minute: int | None = BINANCE_WEIGHT_PER_MINUTE, window_s: float = 60.0
    ) -> None:
        self.weight_per_minute = weight_per_minute
        self.window_s = window_s
        self._lock = threading.Lock()
        self._window = -1
        self._used = 0

    def charge(self, weight: int, now_s: float) -> Charge:
        """Charge ``weight`` at ``now_s``; refused (not charged) when over the budget."""
        window = math.floor(now_s / self.window_s)
        with self._lock:
            if window != self._window:
                self._window, self._used = window, 0
            limit = self.weight_per_minute
            if limit is not None and self._used + weight > limit:
                return Charge(False, self._used, (window + 1) * self.window_s - now_s)
            self._used += weight
            return Charge(True, self._used, 0.0)

    def used(self, now_s: float) -> int:
        with self._lock:
            return self._used if math.floor(now_s / self.window_s) == self._window else 0

    def reset(self, weight_per_minute: int | None = BINANCE_WEIGHT_PER_MINUTE) -> None:
        with self._lock:
            self.weight_per_minute = weight_per_minute
            self._window, self._used = -1, 0


def depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


def ticker_24hr_weight(n_symbols: int | None) -> int:
    """``None`` means all symbols (no ``symbol``/``symbols`` parameter)."""
    if n_symbols is None or n_symbols > 100:
        return 80
    return 2 if n_symbols <= 20 else 40
