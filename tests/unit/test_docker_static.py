"""The Docker path checked without a Docker engine: compose/compose.yml parses and has the shape
we rely on, every image is pinned, MLflow is the project's pinned version, the ports are the
topology spec's, no secret is written in it; the Dockerfile's base image is pinned and the image
runs as a non-root user. Each check is shown to fail on a copy with that one defect.

Where the Compose plugin exists, ``docker compose config`` must accept the file too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit import docker_checks as checks
from tradai.topology import Topology, default_topology

COMPOSE = checks.COMPOSE.read_text()
DOCKERFILE = checks.DOCKERFILE.read_text()
PIN = checks.mlflow_pin()


@pytest.fixture(scope="module")
def topo() -> Topology:
    return default_topology()


def mutate(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"the file no longer contains {old!r}"
    return text.replace(old, new, 1)


# -- the files as committed ------------------------------------------------------------------


def test_compose_file_passes_every_check(topo: Topology) -> None:
    assert checks.compose_problems(COMPOSE, topo, PIN) == []


def test_dockerfile_passes_every_check() -> None:
    assert checks.dockerfile_problems(DOCKERFILE) == []


def test_env_example_names_the_variables_without_secrets() -> None:
    text = checks.ENV_EXAMPLE.read_text()
    assert checks.env_example_problems(text) == []
    for key in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "POSTGRES_PASSWORD",
                "TRADAI_IMAGE_TAG", "LOCALSTACK_AUTH_TOKEN"):
        assert re.search(rf"^{key}=", text, re.M), key


def test_the_pinned_mlflow_is_the_installed_one() -> None:
    import mlflow

    assert checks._matches_pin(mlflow.__version__, PIN), (mlflow.__version__, PIN)


def test_docker_compose_config_accepts_it_where_the_plugin_exists(tmp_path: Path) -> None:
    """Here (no plugin) the YAML and schema checks above are the check; with the plugin,
    Compose's own parser must accept the file with the example's variables filled in."""
    docker = shutil.which("docker")
    plugin = docker is not None and subprocess.run(
        [docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    if not plugin:
        assert checks.load_compose(COMPOSE)[1] == []
        return
    env = tmp_path / ".env"
    env.write_text("TRADAI_IMAGE_TAG=0.1.0\nMINIO_ROOT_USER=u\nMINIO_ROOT_PASSWORD=p\n"
                   "POSTGRES_USER=u\nPOSTGRES_PASSWORD=p\n")
    done = subprocess.run([docker, "compose", "-f", str(checks.COMPOSE), "--env-file", str(env),
                           "--profile", "moto", "--profile", "storage", "--profile", "mlflow",
                           "--profile", "exchange", "--profile", "platform", "config", "-q"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "TRADAI_PLATFORM_ENV_FILE": str(env)})
    assert done.returncode == 0, done.stderr


# -- each defect is found --------------------------------------------------------------------


def problems(text: str, topo: Topology) -> str:
    return "\n".join(checks.compose_problems(text, topo, PIN))


def test_unparsable_compose_file(topo: Topology) -> None:
    broken = mutate(COMPOSE, "services:\n", "services:\n  - [unclosed\n")
    assert "does not parse" in problems(broken, topo)


def test_image_on_latest(topo: Topology) -> None:
    bad = mutate(COMPOSE, "image: postgres:16.10-bookworm", "image: postgres:latest")
    assert "service postgres: image 'postgres:latest' uses the moving tag latest" in \
        problems(bad, topo)


def test_untagged_image(topo: Topology) -> None:
    bad = mutate(COMPOSE, "image: minio/minio:RELEASE.2025-04-22T22-12-26Z",
                 "image: minio/minio")
    assert "service minio: image 'minio/minio' is untagged" in problems(bad, topo)


def test_built_image_with_a_defaulted_tag(topo: Topology) -> None:
    bad = COMPOSE.replace("tradai-platform:${TRADAI_IMAGE_TAG:?", "tradai-platform:${X:-dev}${Y:?")
    assert "must be tagged by a required variable" in problems(bad, topo)


def test_mlflow_image_behind_the_pinned_version(topo: Topology) -> None:
    bad = mutate(COMPOSE, "  mlflow:\n    <<: [*platform-image, *platform-env-file]\n",
                 "  mlflow:\n    <<: [*platform-env-file]\n"
                 "    image: ghcr.io/mlflow/mlflow:v3.1.0\n")
    assert f"MLflow image 'ghcr.io/mlflow/mlflow:v3.1.0' is not the pinned MLflow {PIN}" in \
        problems(bad, topo)
    # The pinned version is accepted: the check is about the version, not the image's origin.
    current = PIN.replace("*", "2")
    good = bad.replace("ghcr.io/mlflow/mlflow:v3.1.0", f"ghcr.io/mlflow/mlflow:v{current}")
    assert "MLflow image" not in problems(good, topo)


def test_mlflow_refusing_the_host_its_clients_use(topo: Topology) -> None:
    bad = mutate(COMPOSE, "MLFLOW_SERVER_ALLOWED_HOSTS: mlflow:5000,",
                 "MLFLOW_SERVER_ALLOWED_HOSTS: ")
    assert "service mlflow: MLFLOW_SERVER_ALLOWED_HOSTS lacks mlflow:5000, the host backend-api" \
        in problems(bad, topo)


def test_service_port_other_than_the_spec(topo: Topology) -> None:
    bad = mutate(COMPOSE, 'PORT: "8002"', 'PORT: "8012"')
    assert "service data-collection: PORT '8012', the spec says 8002" in problems(bad, topo)
    bad = mutate(COMPOSE, '"127.0.0.1:8003:8003"', '"127.0.0.1:8003:8004"')
    assert "service strategy-service: publishes ['8004'], the spec's port is 8003" in \
        problems(bad, topo)


def test_a_topology_port_published_twice(topo: Topology) -> None:
    bad = mutate(COMPOSE, '"127.0.0.1:9100:9100"', '"127.0.0.1:8000:9100"')
    assert "host port 8000 published by" in problems(bad, topo)


def test_literal_password(topo: Topology) -> None:
    bad = mutate(COMPOSE, "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?",
                 "POSTGRES_PASSWORD: hunter2 #${POSTGRES_PASSWORD:?")
    assert "service postgres: POSTGRES_PASSWORD holds a literal value" in problems(bad, topo)


def test_literal_password_with_a_default(topo: Topology) -> None:
    bad = mutate(COMPOSE, "MINIO_ROOT_PASSWORD: ${MINIO_ROOT_PASSWORD:?set",
                 "MINIO_ROOT_PASSWORD: ${MINIO_ROOT_PASSWORD:-minioadmin}${UNUSED:?set")
    assert "service minio: MINIO_ROOT_PASSWORD holds a literal value" in problems(bad, topo)


def test_literal_credentials_in_a_uri(topo: Topology) -> None:
    bad = mutate(COMPOSE, "postgresql+psycopg://${POSTGRES_USER}:${POSTGRES_PASSWORD}@",
                 "postgresql+psycopg://mlflow:s3cret@")
    assert "service mlflow: MLFLOW_BACKEND_STORE_URI has literal credentials in a URI" in \
        problems(bad, topo)
    bad = mutate(COMPOSE, "&secret=${MINIO_ROOT_PASSWORD}", "&secret=minio123")
    assert "has a literal secret in a query string" in problems(bad, topo)


def test_secret_value_in_the_env_example() -> None:
    bad = checks.ENV_EXAMPLE.read_text().replace("MINIO_ROOT_PASSWORD=\n",
                                                 "MINIO_ROOT_PASSWORD=minio123\n")
    assert checks.env_example_problems(bad) == [
        ".env.example: MINIO_ROOT_PASSWORD has a value (leave secrets empty)"]


def test_service_without_health_check(topo: Topology) -> None:
    doc_text = mutate(COMPOSE, '    healthcheck:\n      test: ["CMD", "mc", "ready", "local"]\n',
                      '    healthcheck:\n      disable: true\n')
    assert "service minio: no health check" in problems(doc_text, topo)


def test_undeclared_named_volume(topo: Topology) -> None:
    bad = mutate(COMPOSE, '["minio-data:/data"]', '["minio-store:/data"]')
    assert "service minio: volume 'minio-store' is not a declared named volume" in \
        problems(bad, topo)


def test_dockerfile_base_without_digest() -> None:
    bad = re.sub(r"@sha256:[0-9a-f]{64}", "", DOCKERFILE)
    assert "is not pinned by digest" in "\n".join(checks.dockerfile_problems(bad))


def test_dockerfile_base_on_a_moving_tag() -> None:
    bad = re.sub(r"python:3\.11\.14-slim-bookworm@sha256:[0-9a-f]{64}", "python:latest",
                 DOCKERFILE)
    found = "\n".join(checks.dockerfile_problems(bad))
    assert "base image 'python:latest' has no version tag" in found


def test_dockerfile_running_as_root() -> None:
    bad = DOCKERFILE.replace("USER 10001:10001", "USER root")
    found = checks.dockerfile_problems(bad)
    assert "stage runtime runs as root (no USER)" in found
    assert "stage exchange-sim runs as root (no USER)" in found
    no_user = DOCKERFILE.replace("USER 10001:10001\n", "")
    assert "stage runtime runs as root (no USER)" in checks.dockerfile_problems(no_user)


def test_dockerfile_with_a_healthcheck_or_a_secret() -> None:
    bad = DOCKERFILE.replace('CMD ["python", "-m", "tradai.services.backend_api"]',
                             'HEALTHCHECK CMD curl -f http://localhost:8000/health\n'
                             'ENV AWS_SECRET_ACCESS_KEY=abc\n'
                             'CMD ["python", "-m", "tradai.services.backend_api"]')
    found = checks.dockerfile_problems(bad)
    assert "HEALTHCHECK in the image (ECS and the ALB check health)" in found
    assert "ENV AWS_SECRET_ACCESS_KEY: no secret in the image" in found


def test_every_task_definition_entrypoint_is_in_the_image(topo: Topology) -> None:
    """The image installs platform/ only: every entrypoint the spec names must be a module
    there."""
    root = checks.ROOT / "platform"
    missing = []
    for entry in [s.entrypoint for s in topo.services] + [
            t.entrypoint for t in topo.task_definitions]:
        path = root / Path(*entry.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()):
            missing.append(entry)
    assert missing == []


def test_build_context_is_only_what_the_image_copies() -> None:
    dockerignore = (checks.ROOT / ".dockerignore").read_text()
    assert checks.context_problems(dockerignore) == []
    # Without the catch-all, the tests and the Pulumi program (and any local state) are sent.
    found = "\n".join(checks.context_problems(dockerignore.replace("**\n", "", 1)))
    assert "build context sends tests/" in found and "build context sends infra/" in found
    # Excluding what the Dockerfile copies is found too.
    assert "build context lacks pyproject.toml (the Dockerfile copies it)" in \
        checks.context_problems(dockerignore + "pyproject.toml\n")
