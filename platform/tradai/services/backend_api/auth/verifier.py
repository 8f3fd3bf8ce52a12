"""Validate a Cognito access or ID token: RS256 signature against the pool's keys, expiry,
issuer (the pool's own URL, so a token of another pool fails), token use and app client.

Expiry is checked against wall time: the token's ``exp`` is stamped by Cognito (or the
emulator) in wall time, which the simulated clock must not reinterpret.

A token that verified is remembered (by its exact text) until it expires: a client sends the
same token with every request, and the same bytes verify the same way against the same key,
so only the expiry is checked again. That saves the RS256 verification and claim parsing
(about a third of a millisecond of CPU) on every request after a token's first, in the
gateway and again in the backend. Rejected tokens are never remembered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from tradai.services.backend_api.auth.jwks import JwksCache

ALGORITHMS = ["RS256"]
VERIFIED_CACHE_SIZE = 4096  # tokens; a user's token lives an hour, so about that many users


class TokenRejected(Exception):
    """401: ``reason`` tells the caller what is wrong with the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The key set could not be fetched: the caller cannot be judged now (503, not 401)."""


@dataclass(frozen=True)
class Identity:
    sub: str
    username: str | None
    token_use: str
    client_id: str
    claims: dict[str, Any]


class TokenVerifier:
    def __init__(self, issuer: str, client_id: str, keys: JwksCache,
                 leeway_seconds: float = 5.0, wall: Callable[[], float] = time.time,
                 cache_size: int = VERIFIED_CACHE_SIZE) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.keys = keys
        self.leeway = leeway_seconds
        self._wall = wall
        self._cache_size = cache_size
        self._verified: dict[str, tuple[Identity, float]] = {}  # token -> identity, exp
        self._lock = threading.Lock()

    def verify(self, token: str) -> Identity:
        hit = self._verified.get(token)
        if hit is not None:
            identity, exp = hit
            if self._wall() < exp + self.leeway:
                return identity
            self._verified.pop(token, None)
            raise TokenRejected("token expired")
        identity = self._verify(token)
        self._remember(token, identity)
        return identity

    def _remember(self, token: str, identity: Identity) -> None:
        exp = float(identity.claims["exp"])  # required by _decode
        with self._lock:
            if len(self._verified) >= self._cache_size:
                now = self._wall()
                for t in [t for t, (_, e) in self._verified.items() if now >= e + self.leeway]:
                    del self._verified[t]
                while len(self._verified) >= self._cache_size:  # the oldest remembered first
                    del self._verified[next(iter(self._verified))]
            self._verified[token] = (identity, exp)

    def _verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected(f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRejected("token has no key id")
        try:
            key = self.keys.key(kid)
        except Exception as exc:
            raise KeysUnavailable(f"cannot fetch the user pool's keys: {exc}") from exc
        if key is None:
            raise TokenRejected("token is signed by a key this user pool does not have")
        claims = self._decode(token, key)
        return self._identity(claims)

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(  # exp against time.time(), as _wall is by default
                token, key, algorithms=ALGORITHMS, issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "sub", "token_use"],
                         "verify_aud": False})  # aud exists on ID tokens only: checked below
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token was issued by another user pool") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"invalid token: {exc}") from None

    def _identity(self, claims: dict[str, Any]) -> Identity:
        use = claims.get("token_use")
        if use == "access":
            client, username = claims.get("client_id"), claims.get("username")
        elif use == "id":
            client, username = claims.get("aud"), claims.get("cognito:username")
        else:
            raise TokenRejected(f"token_use {use!r} is not access or id")
        if client != self.client_id:
            raise TokenRejected("token was issued to another app client")
        return Identity(sub=str(claims["sub"]), username=username, token_use=use,
                        client_id=str(client), claims=claims)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header, or TokenRejected."""
    if not authorization:
        raise TokenRejected("no token: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("Authorization header must be 'Bearer <token>'")
    return token.strip()
