"""MLflow basic-auth credentials from Secrets Manager, for the server and for its clients.

The ``mlflow-basic-auth`` secret (JSON ``{"username", "password"}``) is the one source of the
credentials. The server reads it at start to create its admin user; clients read it once per
process and hand it to the mlflow client through ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``, which mlflow reads on every request. Nothing here logs a value.

``TRADAI_MLFLOW_AUTH``: ``basic`` (the secret must exist), ``none`` (no auth), or unset (basic
when the secret exists, so a deployment without it still runs).

The ``mlflow-users`` secret (JSON ``{"users": {"<username>": "<password>", ...}}``) holds the
MLflow users who are not the admin: the gateway's read-only identity (``tradai-reader``) and one
login per operator. The MLflow service creates them (never as admins) at every start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tradai.topology.naming import physical_name

log = logging.getLogger(__name__)

AUTH_SECRET = "mlflow-basic-auth"  # logical name in the topology spec
USERS_SECRET = "mlflow-users"  # logical name in the topology spec
RUNNER_SECRET = "mlflow-runner"  # logical name in the topology spec
RUNNER_USERNAME = "tradai-runner"
# The identity the gateway's /mlflow route sends: a plain user, so MLflow's default READ
# permission is all it has, whatever a request that slipped past the gateway's filter asks.
READER_USERNAME = "tradai-reader"
USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
_MISSING_CODES = {"ResourceNotFoundException"}
# A client must not hang for minutes when Secrets Manager is not reachable.
_CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=5,
                        retries={"max_attempts": 2, "mode": "standard"})


class AuthSecretUnavailable(RuntimeError):
    """Basic auth is required but its secret cannot be read."""


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str = field(repr=False)  # never in a repr, so never in a log line or traceback


class MlflowAuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    mode: Literal["basic", "none"] | None = Field(default=None,
                                                   validation_alias="TRADAI_MLFLOW_AUTH")
    # Name or ARN; by default the spec's secret under this deployment's naming.
    secret: str | None = Field(default=None, validation_alias="TRADAI_MLFLOW_AUTH_SECRET")
    project: str = Field(default="tradai", validation_alias="TRADAI_PROJECT")
    # Every task and function is told TRADAI_ENV; "local" (as the backend's auth config) only
    # for a process started by hand next to the local stack.
    env: str = Field(default="local", validation_alias="TRADAI_ENV")

    users_secret: str | None = Field(default=None,
                                     validation_alias="TRADAI_MLFLOW_USERS_SECRET")

    def secret_id(self) -> str:
        return self.secret or physical_name(self.project, self.env, AUTH_SECRET)

    def users_secret_id(self) -> str:
        return self.users_secret or physical_name(self.project, self.env, USERS_SECRET)

    def runner_secret_id(self) -> str:
        return physical_name(self.project, self.env, RUNNER_SECRET)


def parse_secret(secret_string: str) -> BasicAuth:
    try:
        value = json.loads(secret_string)
        username, password = value["username"], value["password"]
    except (ValueError, KeyError, TypeError):
        raise AuthSecretUnavailable(
            "the MLflow basic-auth secret must be JSON with username and password") from None
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise AuthSecretUnavailable("the MLflow basic-auth secret has an empty username")
    return BasicAuth(username, password)


def parse_users(secret_string: str) -> list[BasicAuth]:
    """The users of an ``mlflow-users`` secret, in its order."""
    try:
        users = json.loads(secret_string)["users"]
        if not isinstance(users, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise AuthSecretUnavailable(
            'the MLflow users secret must be JSON {"users": {"<username>": "<password>"}}'
        ) from None
    out = []
    for username, password in users.items():
        if not username or not isinstance(password, str) or not password:
            raise AuthSecretUnavailable("the MLflow users secret has an empty username or a "
                                        "password that is not a non-empty string")
        out.append(BasicAuth(username, password))
    return out


def _secret_string(secret_id: str, client: Any | None) -> str | None:
    if client is None:
        from tradai.settings import aws_client

        client = aws_client("secretsmanager", config=_CLIENT_CONFIG)
    try:
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    except ClientError as exc:
        # Also a secret that exists without a value yet (AWS, before it is put).
        if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
            return None
        raise


def read_basic_auth(secret_id: str, client: Any | None = None) -> BasicAuth | None:
    """The credentials in the secret; None when the secret does not exist."""
    secret_string = _secret_string(secret_id, client)
    return None if secret_string is None else parse_secret(secret_string)


def read_users(secret_id: str, client: Any | None = None) -> list[BasicAuth] | None:
    """The users in an ``mlflow-users`` secret; None when the secret (or its value) is not
    there."""
    secret_string = _secret_string(secret_id, client)
    return None if secret_string is None else parse_users(secret_string)


def read_user(secret_id: str, username: str, client: Any | None = None) -> BasicAuth:
    """One user's login from an ``mlflow-users`` secret (e.g. the gateway's reader)."""
    try:
        users = read_users(secret_id, client)
    except (ClientError, BotoCoreError) as exc:
        raise AuthSecretUnavailable(f"cannot read {secret_id}: {exc}") from exc
    found = [u for u in users or () if u.username == username]
    if not found:
        raise AuthSecretUnavailable(f"{secret_id} has no MLflow user {username!r}"
                                    if users is not None else f"{secret_id} does not exist")
    return found[0]


def resolve_basic_auth(settings: MlflowAuthSettings | None = None,
                       client: Any | None = None) -> BasicAuth | None:
    """What the configuration asks for: credentials, or None when auth is off."""
    s = settings or MlflowAuthSettings()
    if s.mode == "none":
        return None
    secret_id = s.secret_id()
    try:
        creds = read_basic_auth(secret_id, client)
    except (ClientError, BotoCoreError) as exc:
        if s.mode == "basic":
            raise AuthSecretUnavailable(
                f"cannot read the MLflow basic-auth secret {secret_id}: {exc}") from exc
        log.warning("MLflow basic-auth secret %s not readable (%s): going without auth",
                    secret_id, type(exc).__name__)
        return None
    if creds is None and s.mode == "basic":
        raise AuthSecretUnavailable(
            f"TRADAI_MLFLOW_AUTH=basic but the secret {secret_id} does not exist")
    return creds


_cache: dict[tuple[str, str | None], BasicAuth | None] = {}
_cache_lock = threading.Lock()


def ensure_client_credentials(tracking_uri: str) -> None:
    """Give the in-process mlflow client the credentials, unless it already has some.

    Only HTTP tracking URIs need them (a ``sqlite://`` or file store does not). Credentials
    already in the environment win; otherwise the secret is read once per process.
    """
    if not tracking_uri.startswith(("http://", "https://")):
        return
    if os.environ.get(USERNAME_ENV) and os.environ.get(PASSWORD_ENV):
        return
    settings = MlflowAuthSettings()
    if settings.mode == "none":
        return
    from tradai.settings import aws_settings

    key = (settings.secret_id(), aws_settings().endpoint_url)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = resolve_basic_auth(settings)
        creds = _cache[key]
    if creds is not None:
        os.environ[USERNAME_ENV] = creds.username
        os.environ[PASSWORD_ENV] = creds.password


def clear_cache() -> None:
    """Forget resolved credentials (after a rotation, and between tests)."""
    with _cache_lock:
        _cache.clear()
