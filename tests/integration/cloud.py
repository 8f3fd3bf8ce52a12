"""Test helpers for the running cloud process: start/stop it, deploy small test handlers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from tradai_sim.ports import free_port  # the tests' ports, as the stack chooses its own
from tradai_sim.stack import launcher


@dataclass
class RunningCloud:
    endpoint: str
    state_dir: Path
    proc: subprocess.Popen[bytes] | None  # None: started by the launcher, stopped by it
    time_scale: float
    region: str = "eu-central-1"
    env: str = "local"

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1}))

    def name(self, logical: str) -> str:
        return f"tradai-{self.env}-{logical}"

    def status(self) -> dict[str, Any]:
        # generous: the control plane's status gathers every part and took over 10 s at load 30
        return requests.get(f"{self.endpoint}/_sim/status", timeout=60).json()

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = requests.post(f"{self.endpoint}/_sim{path}", json=body or {}, timeout=30)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        # Workers, tasks and edge processes run in process groups of their own: reap whatever
        # the cloud could not stop itself, as `tradai-sim down` does.
        launcher.stop(self.state_dir)


def start_cloud(state_dir: Path, time_scale: float = 20.0, timeout: float = 180.0) -> RunningCloud:
    """The cloud process, ready (its bootstrap done). ``timeout`` is generous: on a loaded
    2-core machine (other stacks, the local RDS's first start) ready took over 60 s."""
    port = free_port()
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradai_sim.cloud.main", "--state-dir", str(state_dir),
         "--port", str(port), "--time-scale", str(time_scale)],
        stdout=subprocess.DEVNULL, stderr=open(state_dir / "logs" / "cloud.stderr", "wb"),  # noqa: SIM115
        start_new_session=True,
    )
    cloud = RunningCloud(f"http://127.0.0.1:{port}", state_dir, proc, time_scale)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("cloud process exited: " + _progress(state_dir))
        try:
            if requests.get(f"{cloud.endpoint}/_sim/health", timeout=1).json().get("ready"):
                return cloud
        except requests.RequestException:
            pass
        time.sleep(0.2)
    cloud.stop()
    raise RuntimeError("cloud process not ready in time: " + _progress(state_dir))


def _progress(state_dir: Path) -> str:
    p = state_dir / "progress.log"
    return p.read_text()[-2000:] if p.exists() else "(no progress)"


def handler_zip(source: str, module: str = "handler") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{module}.py", textwrap.dedent(source))
    return buf.getvalue()


ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def host_only_names(cloud: RunningCloud) -> set[str]:
    """The names of the cloud process's environment that no container or function of it may
    inherit: all but the image's (``IMAGE_ENV``), those the harness never passes on
    (``INHERITED_NOT``) and those it sets again itself."""
    from tradai_sim.cloud.context import IMAGE_ENV, INHERITED_NOT

    pid = cloud.proc.pid if cloud.proc is not None else cloud.status()["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    host = {item.split(b"=", 1)[0].decode() for item in raw if b"=" in item}
    harness = {"PYTHONUNBUFFERED", "PORT", "LD_PRELOAD", "FAKETIME", "DONT_FAKE_MONOTONIC"}
    return {n for n in host if n not in IMAGE_ENV and n not in harness
            and not n.startswith(INHERITED_NOT)}


def deploy_lambda(cloud: RunningCloud, name: str, source: str, timeout: int = 10,
                  environment: dict[str, str] | None = None, handler: str = "handler.handler",
                  ) -> str:
    """Create a function from handler source code; returns its ARN. Test functions stand in
    for the harness, not the platform: their role may call anything (the local cloud enforces
    IAM, so a role without a policy would be refused every call)."""
    lam = cloud.client("lambda")
    iam = cloud.client("iam")
    try:
        role = iam.get_role(RoleName="test-lambda")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="test-lambda", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
        iam.put_role_policy(RoleName="test-lambda", PolicyName="test-anything",
                            PolicyDocument=json.dumps(ALLOW_ALL))
    return lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=role, Handler=handler,
        Code={"ZipFile": handler_zip(source)}, Timeout=timeout,
        Environment={"Variables": environment or {}})["FunctionArn"]


def create_queue(cloud: RunningCloud, name: str,
                 attrs: dict[str, str] | None = None) -> tuple[str, str]:
    """A test queue; returns its URL and ARN."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attrs or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return url, arn


def ec2_state(cloud: RunningCloud, instance_id: str) -> str:
    r = cloud.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(r[0]["Instances"][0]["State"]["Name"])


def asg_history(cloud: RunningCloud, group: str, event: str) -> list[dict[str, Any]]:
    """What the Auto Scaling part recorded for ``group`` (launches, hooks, replacements)."""
    return [h for h in cloud.status()["parts"]["autoscaling"]["history"]
            if h["group"] == group and h["event"] == event]


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns a truthy value (an awaited event, not a sleep)."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
