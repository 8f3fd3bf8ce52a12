"""MLflow basic auth: credentials from the secret (server and clients), the auth ini, argv/env."""

from __future__ import annotations

import configparser
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tradai.registry import credentials as C
from tradai.services.mlflow_server import auth as A
from tradai.services.mlflow_server.command import server_argv, server_env
from tradai.services.mlflow_server.settings import MlflowServerSettings
from tradai.settings import aws_settings

ENV_KEYS = ("TRADAI_MLFLOW_AUTH", "TRADAI_MLFLOW_AUTH_SECRET", "TRADAI_PROJECT", "TRADAI_ENV",
            C.USERNAME_ENV, C.PASSWORD_ENV, "AWS_ENDPOINT_URL", "MLFLOW_BACKEND_STORE_URI",
            "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ENV_KEYS:
        monkeypatch.setenv(key, "x")  # recorded, so the delete below is undone after the test
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    C.clear_cache()
    aws_settings.cache_clear()  # settings cached by an earlier test must not apply here
    yield
    C.clear_cache()
    aws_settings.cache_clear()


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-central-1")


def put(sm: Any, name: str, username: str = "admin-user", password: str = "p%ss:w0rd/long"
        ) -> None:
    sm.create_secret(Name=name, SecretString=json.dumps({"username": username,
                                                         "password": password}))


# -- which secret, and whether auth is on ----------------------------------------------------
def test_secret_name_from_project_and_env_or_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert C.MlflowAuthSettings().secret_id() == "tradai-local-mlflow-basic-auth"
    monkeypatch.setenv("TRADAI_PROJECT", "acme")
    monkeypatch.setenv("TRADAI_ENV", "prod")
    assert C.MlflowAuthSettings().secret_id() == "acme-prod-mlflow-basic-auth"
    monkeypatch.setenv("TRADAI_MLFLOW_AUTH_SECRET", "arn:aws:secretsmanager:x")
    assert C.MlflowAuthSettings().secret_id() == "arn:aws:secretsmanager:x"


def test_auto_mode_is_basic_when_the_secret_exists_and_off_otherwise(sm: Any) -> None:
    assert C.resolve_basic_auth(client=sm) is None
    put(sm, "tradai-local-mlflow-basic-auth")
    creds = C.resolve_basic_auth(client=sm)
    assert creds == C.BasicAuth("admin-user", "p%ss:w0rd/long")
    assert "p%ss" not in repr(creds)


def test_basic_mode_requires_the_secret_and_none_mode_never_reads_it(
        sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADAI_MLFLOW_AUTH", "basic")
    with pytest.raises(C.AuthSecretUnavailable, match="does not exist"):
        C.resolve_basic_auth(client=sm)
    monkeypatch.setenv("TRADAI_MLFLOW_AUTH", "none")
    put(sm, "tradai-local-mlflow-basic-auth")
    assert C.resolve_basic_auth(client=sm) is None


def test_a_malformed_secret_is_refused_without_echoing_it(sm: Any) -> None:
    sm.create_secret(Name="tradai-local-mlflow-basic-auth", SecretString="hunter2-not-json")
    with pytest.raises(C.AuthSecretUnavailable) as exc:
        C.resolve_basic_auth(client=sm)
    assert "hunter2" not in str(exc.value)


# -- clients -----------------------------------------------------------------------------------
def test_client_credentials_come_from_the_secret_once_per_process(
        sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put(sm, "tradai-local-mlflow-basic-auth")
    calls = []
    real = C.read_basic_auth
    monkeypatch.setattr(C, "read_basic_auth",
                        lambda sid, client=None: calls.append(sid) or real(sid, sm))
    C.ensure_client_credentials("http://mlflow:5000")
    assert (os.environ[C.USERNAME_ENV], os.environ[C.PASSWORD_ENV]) == (
        "admin-user", "p%ss:w0rd/long")
    monkeypatch.delenv(C.USERNAME_ENV)
    C.ensure_client_credentials("http://mlflow:5000")
    assert calls == ["tradai-local-mlflow-basic-auth"]  # cached


def test_credentials_in_the_environment_win_and_local_stores_need_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "resolve_basic_auth", lambda *a, **k: pytest.fail("read"))
    C.ensure_client_credentials("sqlite:///mlflow.db")
    C.ensure_client_credentials("file:///tmp/mlruns")
    monkeypatch.setenv(C.USERNAME_ENV, "u")
    monkeypatch.setenv(C.PASSWORD_ENV, "p")
    C.ensure_client_credentials("https://mlflow.example")
    assert os.environ[C.USERNAME_ENV] == "u"


def test_an_unreachable_secrets_manager_means_no_auth_unless_basic_is_required(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens
    assert C.resolve_basic_auth() is None
    monkeypatch.setenv("TRADAI_MLFLOW_AUTH", "basic")
    with pytest.raises(C.AuthSecretUnavailable, match="cannot read"):
        C.resolve_basic_auth()


# -- the server's auth configuration -----------------------------------------------------------
def test_auth_database_beside_the_store(tmp_path: Path) -> None:
    assert A.auth_database_uri("sqlite:////data/mlflow.db", tmp_path) == (
        f"sqlite:///{tmp_path / 'mlflow-auth.db'}")
    pg = "postgresql://u:p%40ss@db:5432/mlflow"
    assert A.auth_database_uri(pg, tmp_path) == pg


def test_the_ini_reads_back_verbatim_and_is_private(tmp_path: Path) -> None:
    creds = C.BasicAuth("admin-user", "50%off;#not-a-comment")
    store = "postgresql://u:p%40ss%2Fw@db:5432/mlflow"
    (tmp_path / "mlflow-auth.ini").write_text("old")
    (tmp_path / "mlflow-auth.ini").chmod(0o644)
    env = A.configure(creds, store, tmp_path, {"PATH": "/bin",
                                               "MLFLOW_AUTH_ADMIN_PASSWORD": "stale"})
    path = Path(env["MLFLOW_AUTH_CONFIG_PATH"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Read as MLflow reads it (an interpolating ConfigParser).
    parser = configparser.ConfigParser()
    parser.read(path)
    section = parser["mlflow"]
    assert section["admin_username"] == "admin-user"
    assert section["admin_password"] == "50%off;#not-a-comment"
    assert section["database_uri"] == store
    assert section["default_permission"] == "READ"
    assert int(section["auth_cache_ttl_seconds"]) > 0
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in env  # would override the file
    assert env["PATH"] == "/bin"
    key = env["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    assert key == A.flask_secret_key(creds) and creds.password not in key


def test_line_breaks_cannot_inject_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        A.auth_config_text(C.BasicAuth("admin", "pw\ndefault_permission = MANAGE"), "sqlite://")


def test_argv_carries_the_app_and_never_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    s = MlflowServerSettings()
    store = "postgresql://u:secret@db:5432/mlflow"
    argv = server_argv(s, store, A.APP_NAME)
    assert argv[argv.index("--app-name") + 1] == "basic-auth"
    assert not any("secret" in a for a in argv)
    assert server_env(s, {}, store)["MLFLOW_BACKEND_STORE_URI"] == store
    plain = server_argv(s, "sqlite:////d/mlflow.db")
    assert plain[plain.index("--backend-store-uri") + 1] == "sqlite:////d/mlflow.db"
    assert "--app-name" not in plain


@pytest.mark.parametrize("header", ["Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig", "Digest x=1"])
def test_a_scheme_other_than_basic_gets_the_basic_challenge(header: str,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A Cognito token on MLflow's route (no JWT authorizer there) gets MLflow's 401 asking
    for the basic login; MLflow 3.17's own check failed on it with a 500 (its credential cache
    hashes the None password)."""
    import mlflow.server.auth as mlflow_auth
    from flask import Flask

    from tradai.services.mlflow_server import auth

    def fail() -> None:
        raise AssertionError("a non-basic header reached MLflow's basic-auth check")

    monkeypatch.setattr(mlflow_auth, "authenticate_request_basic_auth", fail)
    with Flask(__name__).test_request_context(headers={"Authorization": header}):
        answer = auth.authenticate_basic_only()
    assert answer.status_code == 401  # type: ignore[attr-defined]
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="mlflow"'  # type: ignore[attr-defined]


def test_a_basic_login_goes_to_mlflows_own_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.server.auth as mlflow_auth
    from flask import Flask

    from tradai.services.mlflow_server import auth

    monkeypatch.setattr(mlflow_auth, "authenticate_request_basic_auth", lambda: "checked")
    with Flask(__name__).test_request_context(headers={"Authorization": "Basic dTpw"}):
        assert auth.authenticate_basic_only() == "checked"
    assert auth.AUTHORIZATION_FUNCTION == \
        "tradai.services.mlflow_server.auth:authenticate_basic_only"
