"""testcontainers fixtures: MinIO, PostgreSQL and the AWS emulator (moto's server image) as
containers, at the images compose/compose.yml pins, for tests that run the platform against the
card's backends (tests/integration/test_container_backends.py).

Where no Docker engine answers (this project's machines) every test using them is skipped with
one reason, ``NO_DOCKER``: the one legitimate skip of the suite. The embedded defaults (LMDB or
the emulator's S3 for ArcticDB, the pgserver PostgreSQL) stay what every other test uses.

Import the fixtures into a test module (``from tests.containers import minio, ...``) and mark
the module with ``needs_docker``, so nothing else (the local cloud) starts before the skip.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import requests
import yaml

from tests.unit.docker_checks import COMPOSE

NO_DOCKER = ("no Docker engine answers (DOCKER_HOST or /var/run/docker.sock): the MinIO, "
             "PostgreSQL and AWS-emulator container tests run where Docker runs")
START_TIMEOUT = 120.0


@cache
def docker_unavailable() -> str | None:
    """None when a Docker engine answers a ping, else the one skip reason."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:  # no socket, refused, no permission: all mean "no engine here"
        return NO_DOCKER
    return None


needs_docker = pytest.mark.skipif(docker_unavailable() is not None, reason=NO_DOCKER)


def compose_image(service: str) -> str:
    """The image compose/compose.yml pins for ``service`` (one source for both)."""
    return str(yaml.safe_load(COMPOSE.read_text())["services"][service]["image"])


def _wait_until(probe: Any, what: str, container: Any) -> None:
    """Poll ``probe`` (an awaited readiness event, not a fixed sleep)."""
    from tests.integration.cloud import wait_for

    try:
        wait_for(probe, timeout=START_TIMEOUT, interval=0.5)
    except AssertionError as exc:
        logs = b"".join(container.get_logs()).decode(errors="replace")[-2000:]
        raise AssertionError(f"{what} did not become ready: {logs}") from exc


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@dataclass(frozen=True)
class Minio:
    endpoint: str
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str = "eu-central-1"

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

    def bucket(self) -> str:
        """A new, empty bucket of this MinIO."""
        name = f"t-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={
            "LocationConstraint": self.region})
        return name


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    name: str
    username: str
    password: str

    def as_database(self) -> dict[str, Any]:
        """The shape of tests/integration/test_mlflow_postgres.py's ``database`` fixture."""
        return {"port": self.port, "name": self.name, "username": self.username,
                "password": self.password}


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if (reason := docker_unavailable()) is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def minio(docker_engine: None) -> Iterator[Minio]:
    from testcontainers.core.container import DockerContainer

    user, password = f"u{secrets.token_hex(6)}", secrets.token_urlsafe(18)
    container = (DockerContainer(compose_image("minio"))
                 .with_command("server /data")
                 .with_env("MINIO_ROOT_USER", user).with_env("MINIO_ROOT_PASSWORD", password)
                 .with_exposed_ports(9000))
    with container:
        host, port = container.get_container_host_ip(), int(container.get_exposed_port(9000))
        endpoint = f"http://{host}:{port}"
        _wait_until(lambda: _answers(f"{endpoint}/minio/health/ready"), "MinIO", container)
        yield Minio(endpoint, host, port, user, password)


@pytest.fixture(scope="session")
def postgres(docker_engine: None) -> Iterator[Postgres]:
    import psycopg
    from testcontainers.core.container import DockerContainer

    # Characters that must survive URL quoting, as the embedded tests' passwords do.
    user, password = "mlflow_user", f"p@ss/w%rd:{secrets.token_hex(8)}"
    container = (DockerContainer(compose_image("postgres"))
                 .with_env("POSTGRES_USER", user).with_env("POSTGRES_PASSWORD", password)
                 .with_env("POSTGRES_DB", "mlflow").with_exposed_ports(5432))
    with container:
        host, port = container.get_container_host_ip(), int(container.get_exposed_port(5432))

        def accepts() -> bool:
            try:
                with psycopg.connect(host=host, port=port, dbname="mlflow", user=user,
                                     password=password, connect_timeout=2):
                    return True
            except psycopg.Error:
                return False

        _wait_until(accepts, "PostgreSQL", container)
        yield Postgres(host, port, "mlflow", user, password)


@pytest.fixture(scope="session")
def aws_emulator(docker_engine: None) -> Iterator[str]:
    """moto's server image at the version the embedded default runs; its endpoint URL."""
    from testcontainers.core.container import DockerContainer

    container = (DockerContainer(compose_image("aws-moto")).with_command("-p 4566")
                 .with_exposed_ports(4566))
    with container:
        endpoint = (f"http://{container.get_container_host_ip()}:"
                    f"{container.get_exposed_port(4566)}")
        _wait_until(lambda: _answers(f"{endpoint}/moto-api/data.json"), "moto", container)
        yield endpoint
