"""``tradai-sim up --backend compose``: the platform on Docker Compose (``compose/compose.yml``)
instead of the embedded local cloud.

Everything is checked before anything starts, each failure one line naming what is missing and
how to provide it: the compose file and ``compose/.env``, the credentials it must hold (MinIO,
PostgreSQL, the image tag), LocalStack's token when LocalStack is chosen, then the Docker
client, a Docker engine that answers, and the Compose plugin. Then, in three steps:

1. the AWS emulator (moto, or LocalStack), MinIO and PostgreSQL, waited on until healthy;
2. the same bootstrap as the embedded stack against them (``tradai_sim.cloud.bootstrap``: the
   network, buckets, queues, tables, topics, secrets and the Cognito pool of the spec), the
   ArcticDB and MLflow-artifact buckets in MinIO, and the platform's environment (queue URLs,
   table/bucket/topic names) written to a file the platform services read;
3. MLflow, the exchange simulator and the platform services from the one image.

A failure after the first container started takes the project down again (nothing is left
half-started) and names the step. The Lambda, Step Functions, ECS-task and edge parts of the
local cloud have no compose equivalent yet: a backtest submitted through compose is queued, not
run (README, "Run with Docker").

This module cannot be exercised where no Docker engine exists (the project's machines): the
checks are unit-tested, the compose steps are not.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tradai_sim.stack.launcher import StackError

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "compose" / "compose.yml"
ENV_FILE = REPO_ROOT / "compose" / ".env"
ENV_EXAMPLE = "compose/.env.example"
PROJECT = "tradai"
COMPOSE_ENV = "compose"  # TRADAI_ENV of the compose stack: physical names tradai-compose-*
RECORD_FILE = "compose.json"
PLATFORM_ENV_FILE = "platform.env"
EMULATORS = ("moto", "localstack")
EMULATOR_SERVICE = {"moto": "aws-moto", "localstack": "aws-localstack"}
EMULATOR_URL = "http://127.0.0.1:4566"  # the host side of the emulator's published port
EMULATOR_IN_NETWORK = "http://aws:4566"  # what containers use (network alias "aws")
MINIO_URL = "http://127.0.0.1:9000"
MINIO_BUCKETS = ("arcticdb", "mlflow-artifacts")  # logical: the spec's buckets MinIO serves
BACKING = ("storage", "mlflow")  # profiles of step 1 (besides the emulator)
PLATFORM = ("exchange", "platform")  # profiles of step 3
BACKING_SERVICES = ("minio", "postgres")
# (variable, what it is) that compose/.env must set, in the order the user meets them.
REQUIRED = (
    ("MINIO_ROOT_USER", "MinIO credentials"),
    ("MINIO_ROOT_PASSWORD", "MinIO credentials"),
    ("POSTGRES_USER", "PostgreSQL credentials"),
    ("POSTGRES_PASSWORD", "PostgreSQL credentials"),
    ("TRADAI_IMAGE_TAG", "the image tag"),
)
DOCKER_TIMEOUT = 15.0
UP_TIMEOUT = 900  # seconds `docker compose up --wait` may take (first build included)

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class ComposePlan:
    compose_file: Path
    env_file: Path
    emulator: str
    variables: dict[str, str] = field(repr=False)  # compose/.env merged with the environment

    @property
    def profiles(self) -> tuple[str, ...]:
        return (self.emulator, *BACKING, *PLATFORM)

    def base_command(self) -> list[str]:
        return ["docker", "compose", "--project-name", PROJECT, "-f", str(self.compose_file),
                "--env-file", str(self.env_file)]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads them (comments and blanks skipped, quotes removed)."""
    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def check_config(compose_file: Path, env_file: Path, emulator: str,
                 environ: Mapping[str, str]) -> ComposePlan:
    """The compose file, the env file, its credentials and the emulator choice."""
    if not compose_file.is_file():
        raise StackError(f"compose file {compose_file} not found: run from a checkout of the "
                         "repository or pass --compose-file")
    if not env_file.is_file():
        raise StackError(f"{env_file} not found: copy {ENV_EXAMPLE} to {env_file} and fill in "
                         "the MinIO and PostgreSQL credentials")
    variables = {**read_env_file(env_file),
                 **{k: v for k, v in environ.items() if k in _KNOWN and v}}
    missing: dict[str, list[str]] = {}
    for key, what in REQUIRED:
        if not variables.get(key):
            missing.setdefault(what, []).append(key)
    if missing:
        what, keys = next(iter(missing.items()))
        raise StackError(f"{what} missing: set {' and '.join(keys)} in {env_file} (see "
                         f"{ENV_EXAMPLE}) or in the environment")
    if emulator not in ("auto", *EMULATORS):
        raise StackError(f"unknown emulator {emulator!r}: use auto, moto or localstack")
    token = variables.get("LOCALSTACK_AUTH_TOKEN")
    if emulator == "localstack" and not token:
        raise StackError("LocalStack selected but LOCALSTACK_AUTH_TOKEN is not set: put your "
                         f"LocalStack auth token in {env_file} or the environment, or use "
                         "--emulator moto")
    chosen = emulator if emulator != "auto" else ("localstack" if token else "moto")
    return ComposePlan(compose_file, env_file, chosen, variables)


_KNOWN = {k for k, _ in REQUIRED} | {"LOCALSTACK_AUTH_TOKEN"}


def check_docker(environ: Mapping[str, str], run: Runner = subprocess.run,
                 which: Callable[[str], str | None] = shutil.which) -> None:
    """The Docker client, an engine that answers, the Compose plugin: the first one missing."""
    if which("docker") is None:
        raise StackError("--backend compose needs Docker: `docker` is not on PATH; install "
                         "Docker (Docker Desktop, or Docker Engine with the compose plugin), or "
                         "run `tradai-sim up` without --backend (the embedded default needs no "
                         "Docker)")
    where = (f"DOCKER_HOST={environ['DOCKER_HOST']}" if environ.get("DOCKER_HOST")
             else "the default socket /var/run/docker.sock")
    info = _run(run, ["docker", "info", "--format", "{{.ServerVersion}}"])
    if info is None or info.returncode != 0 or not info.stdout.strip():
        raise StackError(f"--backend compose needs a Docker engine and none answers at {where}: "
                         "start Docker (Docker Desktop, or `sudo systemctl start docker`) or "
                         "point DOCKER_HOST at one, or run `tradai-sim up` without --backend "
                         "(the embedded default needs no Docker)")
    version = _run(run, ["docker", "compose", "version", "--short"])
    if version is None or version.returncode != 0:
        raise StackError("--backend compose needs the Docker Compose plugin (`docker compose "
                         "version` failed): install it (package docker-compose-plugin, or "
                         "Docker Desktop), or run `tradai-sim up` without --backend")


def _run(run: Runner, argv: Sequence[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return run(list(argv), capture_output=True, text=True, timeout=DOCKER_TIMEOUT,
                   check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def host_ports(p: ComposePlan) -> list[int]:
    """The loopback ports the plan's services publish (compose.yml ``ports``)."""
    import yaml

    services = yaml.safe_load(p.compose_file.read_text())["services"]
    ports = set()
    for svc in services.values():
        if set(svc.get("profiles") or []) & set(p.profiles):
            for mapping in svc.get("ports") or []:
                ports.add(int(str(mapping).rsplit(":", 2)[-2]))
    return sorted(ports)


def check_ports(p: ComposePlan, state_dir: Path) -> None:
    """No embedded stack in the same state dir, and every published port free."""
    from tradai_sim.stack.launcher import running_stack

    if running_stack(state_dir) is not None:
        raise StackError(f"an embedded stack is running in {state_dir}: run `tradai-sim down "
                         f"--state-dir {state_dir}` first, or pass another --state-dir")
    for port in host_ports(p):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                raise StackError(
                    f"port {port} is already in use ({exc.strerror}) and compose publishes "
                    f"it: stop what uses it (an embedded stack: `tradai-sim down`)") from exc


def plan(compose_file: Path | None = None, env_file: Path | None = None, emulator: str = "auto",
         environ: Mapping[str, str] | None = None, run: Runner = subprocess.run,
         which: Callable[[str], str | None] = shutil.which) -> ComposePlan:
    """Every check, configuration first (no Docker needed for those), then Docker."""
    environ = os.environ if environ is None else environ
    p = check_config(compose_file or COMPOSE_FILE, env_file or ENV_FILE, emulator, environ)
    check_docker(environ, run, which)
    return p


# -- bringing it up (needs a Docker engine; not run on the project's machines) ---------------------


def up(p: ComposePlan, state_dir: Path, progress: Callable[[str], None] | None = None,
       run: Runner = subprocess.run) -> dict[str, Any]:
    """The three steps; on any failure the project is taken down and StackError says where."""
    say = progress or (lambda _m: None)
    state_dir.mkdir(parents=True, exist_ok=True)
    env_path = (state_dir / PLATFORM_ENV_FILE).resolve()
    env_path.write_text("")  # the platform services read it; filled in by step 2
    env = {**os.environ, "TRADAI_PLATFORM_ENV_FILE": str(env_path)}
    record = {"project": PROJECT, "compose_file": str(p.compose_file),
              "env_file": str(p.env_file), "profiles": list(p.profiles),
              "emulator": p.emulator, "started": time.time()}
    (state_dir / RECORD_FILE).write_text(json.dumps(record, indent=2))
    profiles = [a for prof in p.profiles for a in ("--profile", prof)]
    step = "building the images"
    try:
        say(step)
        _compose(run, [*p.base_command(), *profiles, "build"], env)
        step = f"starting the {p.emulator} emulator, MinIO and PostgreSQL"
        say(step)
        _compose(run, [*p.base_command(), *profiles, "up", "--detach", "--wait",
                       "--wait-timeout", str(UP_TIMEOUT), EMULATOR_SERVICE[p.emulator],
                       *BACKING_SERVICES], env)
        step = "bootstrapping the spec's resources"
        say(step)
        resources = bootstrap(p, state_dir, env_path)
        step = "starting MLflow, the exchange simulator and the platform services"
        say(step)
        _compose(run, [*p.base_command(), *profiles, "up", "--detach", "--wait",
                       "--wait-timeout", str(UP_TIMEOUT)], env)
    except Exception as exc:  # whatever failed (compose, boto3, the bootstrap): nothing stays
        cleanup = "everything started was taken down"
        try:
            down(state_dir, run=run)
        except Exception as err:
            cleanup = (f"taking it down failed too ({err}): run `tradai-sim down --state-dir "
                       f"{state_dir}`")
        raise StackError(f"compose backend failed while {step}: {exc} ({cleanup})") from exc
    return resources


def _compose(run: Runner, argv: list[str], env: Mapping[str, str]) -> None:
    done = run(argv, env=dict(env), capture_output=True, text=True, check=False,
               timeout=UP_TIMEOUT + 60)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise StackError(f"`{' '.join(argv[:2])} ... {argv[-1]}` exited {done.returncode}: "
                         + " / ".join(tail))


def bootstrap(p: ComposePlan, state_dir: Path, env_path: Path,
              emulator_url: str = EMULATOR_URL, minio_url: str = MINIO_URL) -> dict[str, Any]:
    """The embedded stack's bootstrap steps that need no local control plane, against the
    emulator; MinIO's buckets; the platform's environment file (tests/containers.py runs it
    against containers where Docker exists)."""
    import boto3

    from tradai.clock import Clock
    from tradai.topology import load_topology
    from tradai.topology.runtime_config import runtime_config
    from tradai_sim.cloud.bootstrap.deployment import local_deployment
    from tradai_sim.cloud.bootstrap.resources import Bootstrap
    from tradai_sim.cloud.context import CloudContext

    topology = load_topology(None)
    ctx = CloudContext(endpoint=emulator_url, region=topology.region, env=COMPOSE_ENV,
                       clock=Clock(scale=1.0, origin=time.time()), state_dir=state_dir,
                       topology=topology)
    boot = Bootstrap(ctx)
    for step in (boot.network, boot.storage, boot.queues, boot.tables, boot.topics,
                 boot.secrets, boot.identity):
        step()
    s3 = boto3.client("s3", endpoint_url=minio_url, region_name=topology.region,
                      aws_access_key_id=p.variables["MINIO_ROOT_USER"],
                      aws_secret_access_key=p.variables["MINIO_ROOT_PASSWORD"])
    have = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for logical in MINIO_BUCKETS:
        name = ctx.name(logical)
        if name not in have:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={
                "LocationConstraint": topology.region})
    # One env file for every platform container: what the one runtime configuration gives
    # every service alike (each one's port and the like stay in the compose file).
    # One file for all of them, so it carries every resource (told=None), not what one
    # service's access names.
    config = runtime_config(topology, replace(local_deployment(ctx), told=None))
    services = list(config.services.values())
    env = {k: v for k, v in services[0].items() if all(e.get(k) == v for e in services)}
    env_path.write_text(platform_env(env, emulator_url, EMULATOR_IN_NETWORK))
    return ctx.resources


def platform_env(env: Mapping[str, str], host_endpoint: str, network_endpoint: str) -> str:
    """KEY=VALUE lines for the platform containers: URLs the bootstrap got through the host's
    published port (queue URLs) rewritten to the emulator's name inside the network."""
    lines = []
    for key, value in sorted(env.items()):
        value = value.replace(host_endpoint, network_endpoint)
        if "\n" in value:
            raise ValueError(f"{key} has a line break; it cannot go into an env file")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def running(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / RECORD_FILE
    return json.loads(path.read_text()) if path.exists() else None


def down(state_dir: Path, run: Runner = subprocess.run, volumes: bool = False) -> bool:
    """``docker compose down`` for the project recorded in ``state_dir`` (volumes kept unless
    asked). False when no compose stack is recorded there."""
    rec = running(state_dir)
    if rec is None:
        return False
    argv = ["docker", "compose", "--project-name", rec["project"], "-f", rec["compose_file"],
            "--env-file", rec["env_file"]]
    argv += [a for prof in rec["profiles"] for a in ("--profile", prof)]
    argv += ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    env = {**os.environ, "TRADAI_PLATFORM_ENV_FILE": str(state_dir / PLATFORM_ENV_FILE)}
    done = run(argv, env=env, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise StackError(f"`docker compose down` exited {done.returncode}: "
                         f"{(done.stderr or '').strip()[-300:]}")
    (state_dir / RECORD_FILE).unlink(missing_ok=True)
    return True
