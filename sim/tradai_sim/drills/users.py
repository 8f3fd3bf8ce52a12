"""Many users of the platform at once, for drills and benchmarks that load it as a team does.

Locally each user is a Cognito user of the stack's pool in one role's group (created on first
use, password random and kept in memory only); their tokens are the pool's real access tokens,
so the gateway's JWT check, the per-user rate limit and the owner index all see distinct users.
On AWS the operator passes the tokens (``TRADAI_TOKENS``, comma-separated), since a drill must
not create users in a production pool.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

TOKEN_LIFETIME_WALL_S = 3000.0  # Cognito access tokens live an hour (wall)


@dataclass
class User:
    key: str  # "u00", "u01", ...: how a drill names the owner of a ticket
    username: str
    password: str | None
    token: str = ""
    expires: float = 0.0


@dataclass
class UserPool:
    """Users ``u00``..``uNN`` of the stack's Cognito pool (or tokens given on AWS)."""

    idp: Any | None
    pool_id: str | None
    client_id: str | None
    role: str = "researcher"
    domain: str = "load.tradai.local"
    users: dict[str, User] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_tokens(cls, tokens: list[str]) -> UserPool:
        pool = cls(None, None, None)
        for i, tok in enumerate(tokens):
            key = f"u{i:02d}"
            pool.users[key] = User(key, key, None, tok, float("inf"))
        return pool

    def ensure(self, count: int) -> list[str]:
        """The keys of ``count`` users, creating the missing ones."""
        keys = [f"u{i:02d}" for i in range(count)]
        if self.idp is None:
            if count > len(self.users):
                raise RuntimeError(f"{count} users needed, TRADAI_TOKENS gives {len(self.users)}")
            return keys
        for key in keys:
            if key not in self.users:
                self.users[key] = self._create(key)
        return keys

    def token(self, key: str) -> str:
        user = self.users[key]
        with self._lock:
            if user.expires < time.time() + 60:
                assert self.idp is not None and user.password is not None
                resp = self.idp.admin_initiate_auth(
                    UserPoolId=self.pool_id, ClientId=self.client_id,
                    AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": user.username, "PASSWORD": user.password})
                user.token = str(resp["AuthenticationResult"]["AccessToken"])
                user.expires = time.time() + TOKEN_LIFETIME_WALL_S
            return user.token

    def _create(self, key: str) -> User:
        assert self.idp is not None
        username = f"{key}@{self.domain}"
        password = secrets.token_urlsafe(18) + "aA1!"
        # a user of an earlier run exists already: its password is set again below
        with contextlib.suppress(self.idp.exceptions.UsernameExistsException):
            self.idp.admin_create_user(UserPoolId=self.pool_id, Username=username,
                                       MessageAction="SUPPRESS", UserAttributes=[
                                           {"Name": "email", "Value": username},
                                           {"Name": "email_verified", "Value": "true"}])
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username,
                                         Password=password, Permanent=True)
        self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username,
                                         GroupName=self.role)
        return User(key, username, password)


def local_pool(idp: Any, cognito: dict[str, Any], role: str = "researcher") -> UserPool:
    """The pool of a local stack (``cognito``: the stack's ``resources.cognito``)."""
    return UserPool(idp, cognito["user_pool_id"], cognito["client_id"], role)


def aws_pool() -> UserPool:
    tokens = [t for t in os.environ.get("TRADAI_TOKENS", "").split(",") if t]
    if not tokens:
        raise RuntimeError("a drill with many users needs TRADAI_TOKENS (comma-separated "
                           "access tokens of distinct users) on AWS")
    return UserPool.from_tokens(tokens)
