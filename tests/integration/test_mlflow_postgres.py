"""The MLflow service on PostgreSQL by configuration, with basic auth in the same database.

A private PostgreSQL cluster (temp dir, free port; the embedded server the local cloud runs as
RDS, from the pgserver wheel), the database and basic-auth secrets in
the stack's Secrets Manager, ``python -m tradai.services.mlflow_server`` told only the secret
names and the database's host/port/name, exactly as the Pulumi program tells the ECS task.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
import requests

from tests.integration import pg
from tests.integration.cloud import RunningCloud, free_port, wait_for
from tradai.registry import credentials
from tradai.registry.adapter import MLflowAdapter
from tradai.registry.config_store import ConfigStore
from tradai.settings import aws_settings

# No skip: the server binaries are a dependency (the pgserver wheel); missing, this fails.
pytestmark = [pytest.mark.integration]
START_TIMEOUT = 180.0  # first start runs every migration of both schemas
SEARCH = "/api/2.0/mlflow/registered-models/search"


def _password() -> str:
    # Characters that must survive URL quoting (store URI) and the auth ini ('%').
    return f"p@ss/w%rd:{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def database() -> Iterator[dict[str, Any]]:
    with pg.running_cluster() as cluster:
        creds = {"username": "mlflow_user", "password": _password()}
        cluster.create_database("mlflow", creds["username"], creds["password"])
        yield {"port": cluster.port, "name": "mlflow", **creds}


@pytest.fixture(scope="module")
def server(cloud: RunningCloud, database: dict[str, Any],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sm = cloud.client("secretsmanager")
    suffix = uuid.uuid4().hex[:8]
    db_secret = sm.create_secret(Name=f"it-mlflow-db-{suffix}", SecretString=json.dumps(
        {"username": database["username"], "password": database["password"]}))["ARN"]
    auth = {"username": f"admin-{suffix}", "password": _password()}
    auth_secret = f"it-mlflow-basic-auth-{suffix}"
    sm.create_secret(Name=auth_secret, SecretString=json.dumps(auth))
    data_dir = tmp_path_factory.mktemp("mlflow-pg")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TRADAI_", "MLFLOW_"))}
    env.update({"AWS_ENDPOINT_URL": cloud.endpoint, "AWS_DEFAULT_REGION": cloud.region,
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "PORT": str(port), "TRADAI_MLFLOW_DATA_DIR": str(data_dir),
                "TRADAI_MLFLOW_DATABASE_SECRET": db_secret,
                "TRADAI_MLFLOW_DB_HOST": "127.0.0.1",
                "TRADAI_MLFLOW_DB_PORT": str(database["port"]),
                "TRADAI_MLFLOW_DB_NAME": database["name"],
                "TRADAI_MLFLOW_AUTH_SECRET": auth_secret,
                "TRADAI_BUCKET_MLFLOW_ARTIFACTS": cloud.name("mlflow-artifacts")})
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tradai.services.mlflow_server"],
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url, proc, log_path), timeout=START_TIMEOUT, interval=0.5)
        yield {"url": url, "auth": auth, "auth_secret": auth_secret, "data_dir": data_dir,
               "log": log_path, "proc": proc}
    finally:
        _stop_group(proc)


@pytest.fixture
def client_env(cloud: RunningCloud, server: dict[str, Any]) -> Iterator[None]:
    """This process as a task would be: told where AWS is and the secret's name, no creds."""
    keys = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "TRADAI_MLFLOW_AUTH_SECRET", "TRADAI_MLFLOW_AUTH",
            credentials.USERNAME_ENV, credentials.PASSWORD_ENV)
    saved = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ.pop(k, None)
    os.environ.update({"AWS_ENDPOINT_URL": cloud.endpoint, "AWS_DEFAULT_REGION": cloud.region,
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "TRADAI_MLFLOW_AUTH_SECRET": server["auth_secret"]})
    _forget_aws()
    try:
        yield
    finally:
        _forget_aws()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _forget_aws() -> None:
    """What this process cached about AWS (endpoint settings, boto3's resolved credentials,
    the MLflow credentials), so nothing of this test's environment outlives it."""
    credentials.clear_cache()
    aws_settings.cache_clear()
    boto3.DEFAULT_SESSION = None


def _healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    assert proc.poll() is None, log.read_text()[-3000:]
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    deadline = time.time() + 10  # whatever the server spawned (workers) leaves after it
    while time.time() < deadline and _group_alive(proc.pid):
        time.sleep(0.1)
    assert not _group_alive(proc.pid), "processes of the MLflow group survived"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _config(pairs: list[str]) -> dict[str, Any]:
    return {"strategy": "EmaCrossover", "timeframe": "1h", "stake_currency": "USDT",
            "exchange": {"name": "binance", "pair_whitelist": pairs}}


def test_store_and_auth_tables_live_in_postgresql(server: dict[str, Any],
                                                  database: dict[str, Any]) -> None:
    with psycopg.connect(host="127.0.0.1", port=database["port"], dbname=database["name"],
                         user=database["username"], password=database["password"]) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        admins = conn.execute("SELECT username FROM users WHERE is_admin").fetchall()
    assert {"experiments", "registered_models", "model_versions"} <= tables
    assert {"users", "alembic_version", "alembic_version_auth"} <= tables
    assert admins == [(server["auth"]["username"],)]
    # No SQLite fallback was created beside the config.
    assert not list(server["data_dir"].glob("*.db"))


def test_auth_is_required_but_health_is_open(server: dict[str, Any]) -> None:
    url = server["url"]
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    assert requests.get(f"{url}{SEARCH}", timeout=5).status_code == 401
    wrong = (server["auth"]["username"], "not-the-password")
    assert requests.get(f"{url}{SEARCH}", auth=wrong, timeout=5).status_code == 401
    ok = requests.get(f"{url}{SEARCH}", timeout=5,
                      auth=(server["auth"]["username"], server["auth"]["password"]))
    assert ok.status_code == 200, ok.text


def test_register_and_read_back_through_the_adapter(cloud: RunningCloud,
                                                    server: dict[str, Any],
                                                    client_env: None) -> None:
    adapter = MLflowAdapter(server["url"], ConfigStore(cloud.client("s3"),
                                                       cloud.name("configs")))
    name = f"PgStrategy{uuid.uuid4().hex[:6]}"
    config = _config(["BTC/USDT", "ETH/USDT"])
    created = adapter.register_version(name, "EmaCrossover", config, source_code="# src\n",
                                       warmup_days=7, aliases=["champion"])
    got = adapter.get_model_version(name, "champion")
    assert got.version == created.version == 1
    assert got.pairs == ["BTC/USDT", "ETH/USDT"] and got.timeframe == "1h"
    assert got.warmup_days == 7 and got.config_s3_path == created.config_s3_path
    assert adapter.load_config(got) == config
    assert name in {s.name for s in adapter.list_strategies()}


def test_the_ini_is_private_and_no_secret_is_logged(server: dict[str, Any],
                                                    database: dict[str, Any]) -> None:
    ini = server["data_dir"] / "mlflow-auth.ini"
    assert ini.stat().st_mode & 0o777 == 0o600
    log = server["log"].read_text()
    for secret in (server["auth"]["password"], database["password"]):
        assert secret not in log
    # Nor on any command line of the group (argv is visible to every local user).
    for pid in _group_pids(server["proc"].pid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert server["auth"]["password"] not in cmdline


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except ProcessLookupError:
                continue
    return pids
