"""MLflow's basic-auth app configured from the ``mlflow-basic-auth`` secret.

The admin credentials go into an ini file readable by the task's user only (0600), never into
argv, the environment or a log line: ``MLFLOW_AUTH_CONFIG_PATH`` points the server at it. The
auth tables live beside the tracking store: a SQLite file in the data dir, or the same
PostgreSQL database (MLflow keeps their migrations apart in ``alembic_version_auth``).
``/health`` stays open: MLflow lists it among the routes the auth app never protects.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import io
import os
from collections.abc import Mapping
from pathlib import Path

from tradai.registry.credentials import BasicAuth

APP_NAME = "basic-auth"
CONFIG_FILE = "mlflow-auth.ini"
SQLITE_FILE = "mlflow-auth.db"
# Whoever else gets a user (through MLflow's UI/API) may read by default, as MLflow ships it.
DEFAULT_PERMISSION = "READ"
AUTHORIZATION_FUNCTION = "tradai.services.mlflow_server.auth:authenticate_basic_only"
# Checking a password against its scrypt hash costs ~0.4 s of CPU here, on every request unless
# MLflow caches successful checks. Every login is managed through a secret (the admin's, and
# mlflow-users), and a password update through the API drops that user's cached check, so the
# cache's only staleness (an old password accepted in another worker until the TTL ends, after
# a rotation) is harmless.
AUTH_CACHE_TTL_SECONDS = 300
# Set in the environment these would override the file (MLflow reads them first).
_OVERRIDING_ENV = ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD")
FLASK_SECRET_ENV = "MLFLOW_FLASK_SERVER_SECRET_KEY"


def authenticate_basic_only() -> object:
    """MLflow's basic-auth check, but any other scheme gets its 401 challenge.

    MLflow 3.17's own check reads ``request.authorization.password``, which is None for a
    ``Bearer`` header, and with its credential cache on it fails on that None (HTTP 500). A
    Cognito token does reach MLflow's route (the API's MLflow routes have no JWT authorizer),
    so the answer must be the 401 that makes a client or browser ask for the basic login.
    """
    from flask import request
    from mlflow.server.auth import authenticate_request_basic_auth, make_basic_auth_response

    auth = request.authorization
    if auth is not None and (auth.type != "basic" or auth.password is None):
        return make_basic_auth_response()
    return authenticate_request_basic_auth()


def auth_database_uri(store_uri: str, data_dir: Path) -> str:
    """SQLite store -> a SQLite file beside it; any other database -> that database."""
    if store_uri.startswith("sqlite:"):
        return f"sqlite:///{(data_dir / SQLITE_FILE).resolve()}"
    return store_uri


def auth_config_text(creds: BasicAuth, database_uri: str,
                     default_permission: str = DEFAULT_PERMISSION) -> str:
    for value in (creds.username, creds.password, database_uri):
        if "\n" in value or "\r" in value:
            raise ValueError("MLflow auth settings cannot hold line breaks")
    # Interpolation off: a '%' (URL-quoted database password) is written and read verbatim.
    config = configparser.RawConfigParser()
    config["mlflow"] = {
        "default_permission": default_permission,
        "database_uri": database_uri,
        "admin_username": creds.username,
        "admin_password": creds.password,
        "authorization_function": AUTHORIZATION_FUNCTION,
        "auth_cache_ttl_seconds": str(AUTH_CACHE_TTL_SECONDS),
    }
    out = io.StringIO()
    config.write(out)
    return _escape_percent(out.getvalue())


def _escape_percent(text: str) -> str:
    # MLflow reads the file with a plain ConfigParser (interpolating): '%' must be '%%'.
    return text.replace("%", "%%")


def write_private(path: Path, text: str) -> None:
    """Create or replace ``path`` with mode 0600 from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def flask_secret_key(creds: BasicAuth) -> str:
    """The CSRF key every worker and every task must share: derived from the secret, so all
    tasks agree without another secret, and it changes when the password is rotated."""
    return hmac.new(creds.password.encode(), b"tradai-mlflow-flask-secret-key",
                    hashlib.sha256).hexdigest()


def auth_env(config_path: Path, creds: BasicAuth, base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _OVERRIDING_ENV}
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(config_path)
    env.setdefault(FLASK_SECRET_ENV, flask_secret_key(creds))
    return env


def configure(creds: BasicAuth, store_uri: str, data_dir: Path,
              base: Mapping[str, str]) -> dict[str, str]:
    """Write the auth config into the data dir; the server's environment that points at it."""
    path = data_dir / CONFIG_FILE
    write_private(path, auth_config_text(creds, auth_database_uri(store_uri, data_dir)))
    return auth_env(path, creds, base)
