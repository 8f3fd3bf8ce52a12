"""What a drill knows while it runs: where the stack is, its clock, what was injected and
submitted, and the events of its timeline.

The runner creates one ``DrillContext`` per run and installs it (``install``); the Chaos
Toolkit extension's functions find it there. When a playbook runs under the plain ``chaos``
CLI instead, the context is built from the playbook's configuration (``tradai_state_dir``).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from tradai.clock import Clock
from tradai_sim.cloud.context import EMULATOR_CREDENTIALS
from tradai_sim.stack.state import DEFAULT_STATE_DIR, StackRecord

LOCAL, AWS = "local", "aws"


@dataclass
class Event:
    at: float  # simulated epoch seconds
    wall: float
    kind: str  # "fault", "activity", "recovered", ... (the timeline's colour)
    text: str


@dataclass
class Ticket:
    job_id: str
    submitted_at: float  # simulated
    label: str
    owner: str | None = None  # a drill user's key (``users.UserPool``); None: the dev user


@dataclass
class DrillContext:
    target: str
    region: str
    env: str
    run_id: str
    clock: Clock
    endpoint: str | None = None  # the local AWS endpoint (None on AWS)
    api_url: str | None = None  # the gateway
    state_dir: Path | None = None
    status_cache: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)  # drill label -> trading session id
    tickets: list[Ticket] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    watches: dict[str, Any] = field(default_factory=dict)  # invariant name -> invariants.Watch
    stop_load: threading.Event = field(default_factory=threading.Event)
    started_at: float = 0.0  # simulated
    _token: tuple[str, float] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- time --------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def event(self, kind: str, text: str, at: float | None = None) -> None:
        with self._lock:
            self.events.append(Event(self.now() if at is None else at, time.time(), kind, text))

    def mark(self, name: str) -> float:
        self.marks[name] = self.now()
        return self.marks[name]

    def last_fault_at(self) -> float | None:
        return self.faults[-1]["started_at"] if self.faults else None

    # -- the stack -----------------------------------------------------------------------------
    @property
    def local(self) -> bool:
        return self.target == LOCAL

    def control(self, path: str) -> Any:
        assert self.endpoint is not None, "the harness's control API exists only locally"
        return requests.get(f"{self.endpoint}/_sim{path}", timeout=30).json()

    def client(self, service: str) -> Any:
        if self.local:
            return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                                aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=EMULATOR_CREDENTIALS[
                                    "AWS_SECRET_ACCESS_KEY"],
                                config=Config(retries={"max_attempts": 3}))
        return boto3.client(service, region_name=self.region)

    def name(self, logical: str) -> str:
        return f"tradai-{self.env}-{logical}"

    def token(self) -> str:
        """An access token for the platform's API: the stack's dev user locally, the
        ``TRADAI_TOKEN`` of the operator on AWS."""
        if not self.local:
            return os.environ["TRADAI_TOKEN"]
        if self._token is None or self._token[1] < time.time() + 60:
            from tradai_sim.stack.identity import dev_user_token

            assert self.state_dir is not None
            rec = StackRecord.read(self.state_dir)
            assert rec is not None, f"no stack in {self.state_dir}"
            # Cognito access tokens live an hour of wall time
            self._token = (dev_user_token(rec, self.state_dir), time.time() + 3000)
        return self._token[0]


_current: DrillContext | None = None


def install(ctx: DrillContext | None) -> None:
    global _current
    _current = ctx


def current(configuration: dict[str, Any] | None = None) -> DrillContext:
    """The runner's context, or one built from the playbook's configuration."""
    global _current
    if _current is None:
        _current = from_configuration(configuration or {})
    return _current


def from_configuration(configuration: dict[str, Any]) -> DrillContext:
    target = str(configuration.get("tradai_target") or os.environ.get("TRADAI_DRILL_TARGET")
                 or LOCAL)
    region = str(configuration.get("aws_region") or os.environ.get("AWS_REGION")
                 or "eu-central-1")
    env = str(configuration.get("tradai_env") or os.environ.get("TRADAI_ENV") or "local")
    run_id = uuid.uuid4().hex[:8]
    if target != LOCAL:
        return DrillContext(target, region, env, run_id, Clock(),
                            api_url=str(configuration.get("tradai_api_url")
                                        or os.environ["TRADAI_API_URL"]))
    state_dir = Path(str(configuration.get("tradai_state_dir") or DEFAULT_STATE_DIR))
    return local_context(state_dir, run_id)


def local_context(state_dir: Path, run_id: str | None = None) -> DrillContext:
    rec = StackRecord.read(state_dir)
    if rec is None:
        raise RuntimeError(f"no stack is running in {state_dir}")
    status = requests.get(f"{rec.endpoint}/_sim/status", timeout=30).json()
    clock = Clock(scale=float(status["time_scale"]), origin=float(status["clock_origin"]))
    endpoints = status["resources"]["endpoints"]
    return DrillContext(LOCAL, status["region"], "local", run_id or uuid.uuid4().hex[:8], clock,
                        endpoint=rec.endpoint, api_url=endpoints["gateway"],
                        state_dir=state_dir, status_cache=status)
