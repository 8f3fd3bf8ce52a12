"""Symbol naming: ``{exchange}/{BASE}_{QUOTE}/{timeframe}``, e.g. ``binance/BTC_USDT/5m``.

The pair keeps Freqtrade's file naming (``BTC_USDT``), so one glance maps a symbol to a
Freqtrade data file; the exchange prefix leaves room for more exchanges in one library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tradai.data.timeframes import SUPPORTED, timeframe_ms

_PAIR = re.compile(r"^[A-Z0-9]{2,15}/[A-Z0-9]{2,15}$")


class BadPair(ValueError):
    pass


def normalise_pair(pair: str) -> str:
    """``btc/usdt`` / ``BTC_USDT`` / ``BTC-USDT`` -> ``BTC/USDT``; anything else is refused."""
    candidate = pair.strip().upper().replace("_", "/").replace("-", "/")
    if not _PAIR.match(candidate):
        raise BadPair(f"{pair!r} is not a pair like BTC/USDT")
    return candidate


@dataclass(frozen=True, order=True)
class SeriesKey:
    exchange: str
    pair: str  # unified CCXT symbol, BTC/USDT
    timeframe: str

    @property
    def symbol(self) -> str:
        return f"{self.exchange}/{self.pair.replace('/', '_')}/{self.timeframe}"

    @property
    def tf_ms(self) -> int:
        return timeframe_ms(self.timeframe)

    @classmethod
    def parse(cls, symbol: str) -> SeriesKey | None:
        """The key of a stored symbol, or None for a symbol that is not ours."""
        parts = symbol.split("/")
        if len(parts) != 3 or parts[2] not in SUPPORTED or parts[1].count("_") != 1:
            return None
        return cls(parts[0], parts[1].replace("_", "/"), parts[2])
