"""Spot accounts the exchange issues: an API key pair, and balances with free and locked parts.

Amounts are ``Decimal`` (Binance prints 8 decimals; floats would drift over many fills). A new
account starts with 10,000 USDT and nothing else unless the caller asks for other balances.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEFAULT_BALANCES = {"USDT": Decimal("10000")}
EIGHT = Decimal("0.00000001")
ZERO = Decimal(0)


def amount(x: Decimal) -> str:
    """Binance's fixed-point text: 8 decimals, truncated."""
    return f"{x.quantize(EIGHT, rounding='ROUND_DOWN'):f}"


def new_key_pair() -> tuple[str, str]:
    """64 alphanumeric characters each, the length and alphabet of Binance's HMAC keys."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    pick = lambda: "".join(secrets.choice(alphabet) for _ in range(64))  # noqa: E731
    return pick(), pick()


class BalanceError(ValueError):
    """More than the free balance was asked for (Binance's -2010)."""


@dataclass
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO


@dataclass
class Account:
    api_key: str
    secret: str
    uid: int
    created_ms: int
    balances: dict[str, Balance] = field(default_factory=dict)
    update_ms: int = 0

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    def free(self, asset: str) -> Decimal:
        return self.balances[asset].free if asset in self.balances else ZERO

    def lock(self, asset: str, qty: Decimal) -> None:
        if qty > self.free(asset):
            raise BalanceError(asset)
        b = self.balance(asset)
        b.free -= qty
        b.locked += qty

    def unlock(self, asset: str, qty: Decimal) -> None:
        b = self.balance(asset)
        b.locked -= qty
        b.free += qty

    def spend_locked(self, asset: str, qty: Decimal) -> None:
        self.balance(asset).locked -= qty

    def credit(self, asset: str, qty: Decimal) -> None:
        self.balance(asset).free += qty

    def balances_view(self, omit_zero: bool = False) -> list[dict[str, str]]:
        return [
            {"asset": a, "free": amount(b.free), "locked": amount(b.locked)}
            for a, b in sorted(self.balances.items())
            if not (omit_zero and b.free == 0 and b.locked == 0)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "secret": self.secret,
            "uid": self.uid,
            "created_ms": self.created_ms,
            "update_ms": self.update_ms,
            "balances": {a: [str(b.free), str(b.locked)] for a, b in self.balances.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Account:
        return cls(
            api_key=d["api_key"],
            secret=d["secret"],
            uid=int(d["uid"]),
            created_ms=int(d["created_ms"]),
            update_ms=int(d.get("update_ms", 0)),
            balances={
                a: Balance(Decimal(f), Decimal(lk)) for a, (f, lk) in d["balances"].items()
            },
        )


def parse_balances(raw: Any) -> dict[str, Decimal]:
    """``{"USDT": 10000, "BTC": "0.5"}`` -> Decimals; a clear ValueError otherwise."""
    if raw is None:
        return dict(DEFAULT_BALANCES)
    if not isinstance(raw, dict):
        raise ValueError("balances must be an object {ASSET: amount}")
    out: dict[str, Decimal] = {}
    for asset, value in raw.items():
        if not isinstance(asset, str) or not asset.isalnum() or not asset.isupper():
            raise ValueError(f"asset {asset!r} must be upper-case letters/digits, e.g. USDT")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"balance of {asset} must be a number")
        try:
            qty = Decimal(str(value))
        except ArithmeticError:
            raise ValueError(f"balance of {asset} must be a number, got {value!r}") from None
        if not qty.is_finite() or qty < 0:
            raise ValueError(f"balance of {asset} must be >= 0")
        out[asset] = qty
    return out
