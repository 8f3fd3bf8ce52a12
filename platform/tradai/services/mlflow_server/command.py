"""The ``mlflow server`` command line and environment, built from settings (no side effects
beyond reading the database secret when one is configured)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlsplit

from tradai.services.mlflow_server.settings import MlflowServerSettings

SQLITE_FILE = "mlflow.db"
STORE_URI_ENV = "MLFLOW_BACKEND_STORE_URI"

SecretReader = Callable[[str], str]


def backend_store_uri(settings: MlflowServerSettings,
                      read_secret: SecretReader | None = None) -> str:
    """Explicit URI > PostgreSQL with injected credentials, or from the database secret >
    SQLite in the data dir."""
    if settings.backend_store_uri:
        return settings.backend_store_uri
    injected = settings.database_username is not None or settings.database_password is not None
    if injected or settings.database_secret:
        what = ("TRADAI_MLFLOW_DB_USERNAME/PASSWORD are" if injected
                else "TRADAI_MLFLOW_DATABASE_SECRET is")
        if not settings.database_host:
            raise ValueError(f"{what} set but TRADAI_MLFLOW_DB_HOST is not: the PostgreSQL "
                             "host is needed too")
        if injected:
            if not settings.database_username or not settings.database_password:
                raise ValueError("TRADAI_MLFLOW_DB_USERNAME and TRADAI_MLFLOW_DB_PASSWORD "
                                 "must both be set")
            creds = {"username": settings.database_username,
                     "password": settings.database_password}
        else:
            assert settings.database_secret is not None
            creds = json.loads((read_secret or _read_secret)(settings.database_secret))
        user, password = quote(creds["username"], safe=""), quote(creds["password"], safe="")
        return (f"postgresql://{user}:{password}@{settings.database_host}:"
                f"{settings.database_port}/{settings.database_name}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.data_dir / SQLITE_FILE).resolve()}"


def server_argv(settings: MlflowServerSettings, store_uri: str,
                app_name: str | None = None) -> list[str]:
    argv = [sys.executable, "-m", "mlflow", "server",
            "--host", settings.host, "--port", str(settings.port),
            "--workers", str(settings.workers)]
    if not _has_password(store_uri):
        # A URI with a password goes through the environment only (server_env): any local
        # user can read a command line.
        argv += ["--backend-store-uri", store_uri]
    if app_name:  # e.g. "basic-auth" (see auth.py)
        argv += ["--app-name", app_name]
    if settings.artifacts_bucket:
        # Proxied artifacts: clients never need S3 credentials, only the server does.
        argv += ["--serve-artifacts", "--artifacts-destination",
                 f"s3://{settings.artifacts_bucket}/"]
    if settings.static_prefix:
        argv += ["--static-prefix", settings.static_prefix]
    return argv


def server_env(settings: MlflowServerSettings, base: Mapping[str, str],
               store_uri: str | None = None) -> dict[str, str]:
    env = dict(base)
    if store_uri:
        env[STORE_URI_ENV] = store_uri  # mlflow server reads --backend-store-uri from it
    # No MLflow jobs are used: this keeps ~10 job-consumer processes from starting.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    if settings.aws_endpoint_url:
        env.setdefault("MLFLOW_S3_ENDPOINT_URL", settings.aws_endpoint_url)
    return env


def _has_password(uri: str) -> bool:
    try:
        return urlsplit(uri).password is not None
    except ValueError:
        return True  # unparsable: keep it off the command line to be safe


def _read_secret(secret_id: str) -> str:
    from tradai.settings import aws_client

    return str(aws_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
