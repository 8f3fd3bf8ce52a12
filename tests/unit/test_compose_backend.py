"""``tradai-sim up --backend compose``: every missing piece is one line naming it and how to
provide it, and nothing starts (no container, no state). A stand-in ``docker`` on PATH records
every call, so "nothing started" is what the CLI really asked Docker, on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tradai_sim.stack import compose
from tradai_sim.stack.launcher import StackError

TRADAI_SIM = str(Path(sys.executable).parent / "tradai-sim")
GOOD_ENV = {"TRADAI_IMAGE_TAG": "0.1.0", "MINIO_ROOT_USER": "minio-user",
            "MINIO_ROOT_PASSWORD": "minio-pass", "POSTGRES_USER": "mlflow",
            "POSTGRES_PASSWORD": "pg-pass"}
# A docker that logs its argv and answers `docker info` / `docker compose version` as told.
FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "{log}"
case "$1" in
  info) {info} ;;
  compose) [ "$2" = version ] && {{ {compose_version}; }}; exit 0 ;;
esac
exit 0
"""


def env_file(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / ".env"
    path.write_text("# test credentials\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def fake_docker(tmp_path: Path, *, engine: bool, plugin: bool = True) -> tuple[Path, Path]:
    bin_dir, log = tmp_path / "bin", tmp_path / "docker-calls.log"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.format(
        log=log,
        info="echo 28.2.2; exit 0" if engine else
        "echo 'Cannot connect to the Docker daemon' >&2; exit 1",
        compose_version="echo 2.39.1; exit 0" if plugin else
        "echo \"docker: unknown command: docker compose\" >&2; exit 1"))
    script.chmod(0o755)
    return bin_dir, log


def run_up(tmp_path: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in (*GOOD_ENV, "LOCALSTACK_AUTH_TOKEN", "DOCKER_HOST")}
    env.update({"PATH": path, "COLUMNS": "400"})
    return subprocess.run([TRADAI_SIM, "up", "--backend", "compose", "--state-dir",
                           str(tmp_path / "state"), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done
    lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_no_docker_engine_one_line_and_nothing_started(tmp_path: Path) -> None:
    bin_dir, log = fake_docker(tmp_path, engine=False)
    env = env_file(tmp_path, **GOOD_ENV)
    line = one_line(run_up(tmp_path, f"{bin_dir}:/usr/bin:/bin", "--env-file", str(env)))
    assert "needs a Docker engine and none answers" in line
    assert "DOCKER_HOST" in line and "without --backend" in line
    # Asked whether an engine answers, nothing more: no build, no `compose up`.
    assert [c.split()[0] for c in calls(log)] == ["info"]
    assert not (tmp_path / "state").exists()


def test_no_docker_client_names_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = env_file(tmp_path, **GOOD_ENV)
    line = one_line(run_up(tmp_path, str(empty), "--env-file", str(env)))
    assert "`docker` is not on PATH" in line and "install Docker" in line


def test_no_compose_plugin_names_it(tmp_path: Path) -> None:
    bin_dir, log = fake_docker(tmp_path, engine=True, plugin=False)
    env = env_file(tmp_path, **GOOD_ENV)
    line = one_line(run_up(tmp_path, f"{bin_dir}:/usr/bin:/bin", "--env-file", str(env)))
    assert "Docker Compose plugin" in line and "docker-compose-plugin" in line
    assert [c.split()[:2] for c in calls(log)] == [["info", "--format"], ["compose", "version"]]


def test_localstack_without_token_one_line_docker_never_asked(tmp_path: Path) -> None:
    bin_dir, log = fake_docker(tmp_path, engine=True)
    env = env_file(tmp_path, **GOOD_ENV, LOCALSTACK_AUTH_TOKEN="")
    line = one_line(run_up(tmp_path, f"{bin_dir}:/usr/bin:/bin", "--env-file", str(env),
                           "--emulator", "localstack"))
    assert "LocalStack selected but LOCALSTACK_AUTH_TOKEN is not set" in line
    assert "--emulator moto" in line
    assert calls(log) == []


@pytest.mark.parametrize("missing", ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"])
def test_minio_credentials_missing_one_line(tmp_path: Path, missing: str) -> None:
    bin_dir, log = fake_docker(tmp_path, engine=True)
    env = env_file(tmp_path, **{**GOOD_ENV, missing: ""})
    line = one_line(run_up(tmp_path, f"{bin_dir}:/usr/bin:/bin", "--env-file", str(env)))
    assert line.startswith("error: MinIO credentials missing: set ")
    assert missing in line and "compose/.env.example" in line
    assert calls(log) == []


def test_env_file_missing_says_copy_the_example(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"not found: copy compose/\.env\.example to"):
        compose.check_config(compose.COMPOSE_FILE, tmp_path / "nope.env", "auto", {})


def test_emulator_choice(tmp_path: Path) -> None:
    env = env_file(tmp_path, **GOOD_ENV)
    assert compose.check_config(compose.COMPOSE_FILE, env, "auto", {}).emulator == "moto"
    token = {"LOCALSTACK_AUTH_TOKEN": "ls-token"}
    assert compose.check_config(compose.COMPOSE_FILE, env, "auto", token).emulator == \
        "localstack"
    plan = compose.check_config(compose.COMPOSE_FILE, env, "moto", token)
    assert plan.profiles == ("moto", "storage", "mlflow", "exchange", "platform")
    # The shell's value wins over the file's, as with Compose itself.
    assert compose.check_config(compose.COMPOSE_FILE, env, "auto", {
        "MINIO_ROOT_USER": "from-shell"}).variables["MINIO_ROOT_USER"] == "from-shell"


def test_platform_env_rewrites_the_host_endpoint() -> None:
    text = compose.platform_env(
        {"TRADAI_QUEUE_BACKTEST_QUEUE_FIFO": "http://127.0.0.1:4566/123/q.fifo",
         "TRADAI_ENV": "compose"}, "http://127.0.0.1:4566", "http://aws:4566")
    assert text == ("TRADAI_ENV=compose\n"
                    "TRADAI_QUEUE_BACKTEST_QUEUE_FIFO=http://aws:4566/123/q.fifo\n")


def test_a_failed_step_takes_the_project_down(tmp_path: Path) -> None:
    """The backing services fail to become healthy: `down` runs for the same project and
    profiles, the record is gone, and the error names the step."""
    seen: list[list[str]] = []

    def run(argv: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append(argv)
        failing = "up" in argv
        return subprocess.CompletedProcess(argv, 1 if failing else 0, "",
                                           "container tradai-minio-1 is unhealthy")

    plan = compose.check_config(compose.COMPOSE_FILE, env_file(tmp_path, **GOOD_ENV),
                                "moto", {})
    with pytest.raises(StackError, match=r"while starting the moto emulator, MinIO and "
                                         r"PostgreSQL: .*unhealthy.*taken down"):
        compose.up(plan, tmp_path / "state", run=run)
    assert len(seen) == 3
    assert seen[0][-1] == "build" and "up" in seen[1] and seen[1][-3:] == [
        "aws-moto", "minio", "postgres"]
    down = seen[-1]
    assert down[:4] == ["docker", "compose", "--project-name", "tradai"]
    assert "--remove-orphans" in down and "--volumes" not in down
    assert compose.running(tmp_path / "state") is None


def test_the_emulator_image_is_the_pinned_moto() -> None:
    """The moto container (compose, testcontainers) is the moto the embedded default runs."""
    import importlib.metadata

    from tests.containers import compose_image

    assert compose_image("aws-moto") == f"motoserver/moto:{importlib.metadata.version('moto')}"


def test_up_runs_the_three_steps_in_order_then_down(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What `up` asks Compose for (with a recording runner; the bootstrap stands in)."""
    seen: list[tuple[list[str], dict[str, str]]] = []

    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append((argv, kw.get("env") or {}))
        return subprocess.CompletedProcess(argv, 0, "", "")

    booted: list[Path] = []

    def bootstrap(p: compose.ComposePlan, state: Path, env_path: Path) -> dict[str, Any]:
        assert len(seen) == 2, "the bootstrap runs once the backing services are healthy"
        booted.append(env_path)
        env_path.write_text("TRADAI_ENV=compose\n")
        return {"tables": {}}

    monkeypatch.setattr(compose, "bootstrap", bootstrap)
    plan = compose.check_config(compose.COMPOSE_FILE, env_file(tmp_path, **GOOD_ENV),
                                "auto", {"LOCALSTACK_AUTH_TOKEN": "ls-token"})
    state = tmp_path / "state"
    compose.up(plan, state, run=run)
    profiles = ["--profile", "localstack", "--profile", "storage", "--profile", "mlflow",
                "--profile", "exchange", "--profile", "platform"]
    base = ["docker", "compose", "--project-name", "tradai", "-f", str(compose.COMPOSE_FILE),
            "--env-file", str(plan.env_file)]
    assert [argv for argv, _ in seen] == [
        [*base, *profiles, "build"],
        [*base, *profiles, "up", "--detach", "--wait", "--wait-timeout", "900",
         "aws-localstack", "minio", "postgres"],
        [*base, *profiles, "up", "--detach", "--wait", "--wait-timeout", "900"],
    ]
    # Every step tells Compose where the platform's environment file is.
    assert {env["TRADAI_PLATFORM_ENV_FILE"] for _, env in seen} == {str(booted[0])}
    assert compose.running(state)["emulator"] == "localstack"
    seen.clear()
    assert compose.down(state, run=run) is True
    assert seen[0][0] == [*base, *profiles, "down", "--remove-orphans"]
    assert compose.running(state) is None and compose.down(state, run=run) is False


def test_a_published_port_in_use_is_named(tmp_path: Path) -> None:
    import socket

    plan = compose.check_config(compose.COMPOSE_FILE, env_file(tmp_path, **GOOD_ENV), "moto", {})
    ports = compose.host_ports(plan)
    # moto's 4566 (not LocalStack's as well), MinIO, PostgreSQL, the exchange, the services.
    assert ports == [4566, 5000, 5432, 8000, 8002, 8003, 9000, 9001, 9100]
    taken = None
    with socket.socket() as holder:
        for port in ports:
            try:
                holder.bind(("127.0.0.1", port))
                holder.listen()
                taken = port
                break
            except OSError:
                continue  # in use already (another stack on this machine): the check sees it
        with pytest.raises(StackError, match=r"port \d+ is already in use .* compose publishes"):
            compose.check_ports(plan, tmp_path / "state")
    assert taken is None or taken in ports
