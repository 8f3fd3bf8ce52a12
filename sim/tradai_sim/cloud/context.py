"""What every part of the control plane shares: endpoint, clock, spec, state dir, clients."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tradai.clock import Clock
from tradai.topology.model import Topology
from tradai.topology.naming import physical_name

ACCOUNT_ID = "123456789012"  # moto's default account
# Credentials for the emulator only; it accepts any value. Never real secrets.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
INHERITED_NOT = ("AWS_", "TRADAI_", "MLFLOW_TRACKING_")
# What a container image's own environment provides: the interpreter's paths and the locale.
# An ECS container or a Lambda function gets these from the host, and nothing else of the
# cloud process's environment: on AWS it sees its image's or runtime's, its configuration's
# and what ECS or Lambda sets, never the shell's that started the stack (a developer's
# proxy, FREQTRADE__* overrides, PYTHON* flags).
IMAGE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH",
             "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "SSL_CERT_FILE",
             "SSL_CERT_DIR", "LD_LIBRARY_PATH")

CHILDREN_FILE = "children.pids"

ControlRoute = Callable[[dict[str, Any]], tuple[int, Any]]


@dataclass
class CloudContext:
    endpoint: str
    region: str
    env: str
    clock: Clock
    state_dir: Path
    topology: Topology
    # Identifiers the bootstrap created (subnet ids per AZ, cluster ARN, ...), read by parts.
    resources: dict[str, Any] = field(default_factory=dict)
    control_routes: dict[str, ControlRoute] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    _clients: dict[str, Any] = field(default_factory=dict)
    _role_creds: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def account_id(self) -> str:
        return ACCOUNT_ID

    def publish_endpoint(self, name: str, url: str) -> None:
        """Make a URL visible in ``tradai-sim status`` under ``endpoints.<name>``."""
        self.resources.setdefault("endpoints", {})[name] = url

    @property
    def log_dir(self) -> Path:
        d = self.state_dir / "logs"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def name(self, logical: str) -> str:
        return physical_name(self.topology.project, self.env, logical)

    def client(self, service: str) -> Any:
        """A boto3 client against the emulator (cached; boto3 clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=self.region,
                    aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    config=Config(retries={"max_attempts": 2}, max_pool_connections=50),
                )
            return self._clients[service]

    def child_env(self, extra: dict[str, str] | None = None, *,
                  image: bool = False) -> dict[str, str]:
        """The environment of a process of the stack: where AWS is, which clock, which env.
        ``image`` (an ECS container, a function): inherit only ``IMAGE_ENV`` and get no keys,
        since its role's credentials come from ECS or Lambda as on AWS; else all but
        ``INHERITED_NOT``, with the harness's emulator keys."""
        # Inherited AWS, TradAI and MLflow client settings would point a process at another
        # account, stack or MLflow server (its credentials come from this stack's secret).
        env = {k: v for k, v in os.environ.items()
               if (k in IMAGE_ENV if image else not k.startswith(INHERITED_NOT))}
        if not image:
            env.update(EMULATOR_CREDENTIALS)
        env.update(self.clock.env())
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true",
                "TRADAI_ENV": self.env,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra or {})
        return env

    def role_env(self, role_arn: str | None, session: str) -> dict[str, str]:
        """The credentials of the role a process runs as (a Lambda execution role, an ECS
        task role), in its environment as AWS gives them, so the emulator can tell who calls
        (FIS API faults target a role). Assumed through the emulator's STS."""
        if not role_arn:
            return {}
        with self._lock:
            creds = self._role_creds.get(role_arn)
        if creds is None:
            creds = self.client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=session[:64] or "tradai",
                DurationSeconds=43200)["Credentials"]
            with self._lock:
                self._role_creds[role_arn] = creds
        return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"]}

    def register_child(self, pid: int) -> None:
        """Record a process group the stack started, so ``down`` can reap it even if the
        cloud process itself died."""
        with self._lock, (self.state_dir / CHILDREN_FILE).open("a") as f:
            f.write(f"{pid}\n")

    @staticmethod
    def python() -> str:
        return sys.executable
