"""The card's backends as containers (tests/containers.py), where a Docker engine exists:

- the ArcticDB store's tests (tests/unit/test_data_store.py, LMDB there) against MinIO, through
  the same URI builder the services use (``AWS_ENDPOINT_URL`` + ``TRADAI_BUCKET_ARCTICDB``);
- the MLflow service's PostgreSQL tests (tests/integration/test_mlflow_postgres.py, the embedded
  pgserver there) against the PostgreSQL container: store and auth tables, basic auth, a registry
  round trip through the adapter, no secret logged;
- ``tradai-sim up --backend compose``'s bootstrap against the moto container and MinIO.

Without a Docker engine the whole module is skipped with one reason (``NO_DOCKER``) before any
fixture starts: nothing else (not the local cloud) is started for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.containers import (  # noqa: F401 (fixtures)
    Minio,
    Postgres,
    aws_emulator,
    docker_engine,
    minio,
    needs_docker,
    postgres,
)
from tests.integration import test_mlflow_postgres as pg_suite
from tests.integration.test_mlflow_postgres import client_env, server  # noqa: F401 (fixtures)
from tests.unit import test_data_store as store_suite
from tradai.data.arctic_uri import arctic_uri
from tradai.data.settings import DataSettings
from tradai.data.store import OhlcvStore
from tradai_sim.stack import compose

pytestmark = [pytest.mark.integration, needs_docker]

# The suites' tests, collected here again under a prefix: their fixtures `store` and
# `database` are overridden below by the container-backed ones.
for _name, _test in vars(store_suite).items():
    if _name.startswith("test_") and callable(_test):
        globals()[f"test_minio__{_name[5:]}"] = _test
for _name, _test in vars(pg_suite).items():
    if _name.startswith("test_") and callable(_test):
        globals()[f"test_container_pg__{_name[5:]}"] = _test


@pytest.fixture()
def store(minio: Minio) -> OhlcvStore:  # noqa: F811
    """A fresh bucket per test; the URI as the services build it from their environment."""
    settings = DataSettings(TRADAI_BUCKET_ARCTICDB=minio.bucket(),
                            AWS_ENDPOINT_URL=minio.endpoint, AWS_DEFAULT_REGION=minio.region,
                            AWS_ACCESS_KEY_ID=minio.access_key,
                            AWS_SECRET_ACCESS_KEY=minio.secret_key)
    uri = arctic_uri(settings)
    assert uri.startswith(f"s3://{minio.host}:") and f"port={minio.port}" in uri
    return OhlcvStore(uri, "ohlcv")


@pytest.fixture(scope="module")
def database(postgres: Postgres) -> dict[str, Any]:  # noqa: F811
    # The MLflow service is told host 127.0.0.1 (as the RDS-local tests): a local engine's
    # published port.
    return postgres.as_database()


def test_compose_bootstrap_against_the_emulator_and_minio(aws_emulator: str,  # noqa: F811
                                                          minio: Minio,  # noqa: F811
                                                          tmp_path: Path) -> None:
    plan = compose.ComposePlan(compose.COMPOSE_FILE, tmp_path / ".env", "moto", {
        "MINIO_ROOT_USER": minio.access_key, "MINIO_ROOT_PASSWORD": minio.secret_key})
    state, env_path = tmp_path / "state", tmp_path / "platform.env"
    state.mkdir()
    resources = compose.bootstrap(plan, state, env_path, emulator_url=aws_emulator,
                                  minio_url=minio.endpoint)
    names = {b["Name"] for b in minio.client().list_buckets()["Buckets"]}
    assert {"tradai-compose-arcticdb", "tradai-compose-mlflow-artifacts"} <= names
    assert set(resources["tables"].values()) and all(
        t.startswith("tradai-compose-") for t in resources["tables"].values())
    env = dict(line.split("=", 1) for line in env_path.read_text().splitlines())
    assert env["TRADAI_ENV"] == "compose"
    # Queue URLs name the emulator as the containers reach it, not the host's port.
    queue = env["TRADAI_QUEUE_BACKTEST_QUEUE_FIFO"]
    assert queue.startswith(compose.EMULATOR_IN_NETWORK) and aws_emulator not in queue
    # The same bootstrap again changes nothing and writes the same environment.
    before = env_path.read_text()
    compose.bootstrap(plan, state, env_path, emulator_url=aws_emulator,
                      minio_url=minio.endpoint)
    assert env_path.read_text() == before
    assert json.loads((state / "dev-user.json").read_text())
