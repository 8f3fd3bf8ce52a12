"""The user pool's public keys, fetched once and refreshed only when an unknown key id shows
up (Cognito rotates keys rarely), at most once per ``min_refresh_seconds`` so a stream of
tokens with made-up key ids cannot turn into a stream of JWKS fetches."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt


def http_fetcher(url: str, timeout: float = 5.0) -> Callable[[], dict[str, Any]]:
    def fetch() -> dict[str, Any]:
        resp = httpx.get(url, timeout=timeout)
        resp.raise_for_status()
        return dict(resp.json())
    return fetch


class JwksCache:
    def __init__(self, fetch: Callable[[], dict[str, Any]],
                 min_refresh_seconds: float = 60.0) -> None:
        self._fetch = fetch
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key with this id; fetching the set if it is not known yet (may raise on a
        failed fetch: the caller answers "cannot validate now", not "bad token")."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if kid not in self._keys and self._may_refresh():
                self._refresh()
            return self._keys.get(kid)

    def _may_refresh(self) -> bool:
        return (self._fetched_at is None
                or time.monotonic() - self._fetched_at >= self._min_refresh)

    def _refresh(self) -> None:
        data = self._fetch()
        keys = {}
        for raw in data.get("keys", []):
            if raw.get("kid") and raw.get("kty") == "RSA":
                keys[raw["kid"]] = jwt.PyJWK.from_dict(raw)
        self._keys = keys
        self._fetched_at = time.monotonic()
