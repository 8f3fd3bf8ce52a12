"""The platform's MLflow server, started with what the Pulumi program gives its container
(``--static-prefix`` from the spec's route, ``MLFLOW_SERVER_ALLOWED_HOSTS``), answers under
``/mlflow`` to its Cloud Map and ALB names and refuses any other Host (MLflow 3's DNS-rebinding
check), while the ALB's health check passes whatever Host it sends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tradai.topology import default_topology
from tradai_infra.config import StackSettings
from tradai_infra.context import Context
from tradai_infra.image import ImageRef
from tradai_infra.mlflow_access import (
    ALLOWED_HOSTS_ENV,
    STATIC_PREFIX_ENV,
    host_patterns,
    static_prefix,
)
from tradai_sim.ports import free_port

ALB_DNS = "internal-tradai-dev-alb-123.eu-central-1.elb.amazonaws.com"
START_TIMEOUT_S = 240  # a loaded shared machine starts MLflow slowly


def _get(port: int, path: str, host: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    topo = default_topology()
    settings = StackSettings(env="dev", region="eu-central-1",
                             azs=("eu-central-1a", "eu-central-1b"),
                             image=ImageRef(repository="tradai-dev-platform", reference=":1"))
    ctx = Context(topo=topo, settings=settings, account_id=None)  # type: ignore[arg-type]
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "mlflow.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRADAI_", "MLFLOW_", "AWS_"))}
    env.update({"PORT": str(port), "TRADAI_BIND_HOST": "127.0.0.1",
                "TRADAI_MLFLOW_DATA_DIR": str(tmp_path_factory.mktemp("mlflow")),
                "TRADAI_MLFLOW_AUTH": "none",  # the prefix and Host check, not the logins
                STATIC_PREFIX_ENV: static_prefix(topo),
                ALLOWED_HOSTS_ENV: host_patterns(ctx, ALB_DNS)})
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tradai.services.mlflow_server"], env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, \
                f"MLflow exited with {proc.returncode}: {log.read_text()[-2000:]}"
            try:
                if _get(port, "/mlflow/health", "127.0.0.1") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, \
                f"MLflow did not answer /mlflow/health: {log.read_text()[-2000:]}"
            time.sleep(0.5)
        yield {"port": port, "cloud_map": f"mlflow.{topo.project}-dev.local:5000"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def test_answers_under_the_prefix_to_its_own_names(server: dict[str, Any]) -> None:
    port = server["port"]
    for host in (server["cloud_map"], ALB_DNS, f"{ALB_DNS}:80",
                 "abc123.execute-api.eu-central-1.amazonaws.com"):
        assert _get(port, "/mlflow" + SEARCH, host) == 200, host
    # Not without the prefix: the ALB forwards /mlflow/... unchanged.
    assert _get(port, SEARCH, server["cloud_map"]) == 404


def test_refuses_other_hosts_but_not_the_health_check(server: dict[str, Any]) -> None:
    port = server["port"]
    for host in ("evil.example.com", "mlflow.tradai-prod.local:5000"):
        assert _get(port, "/mlflow" + SEARCH, host) == 403, host
    # The ALB's health check sends the target's IP as Host: exempt from the check.
    assert _get(port, "/mlflow/health", "10.0.11.23:5000") == 200
