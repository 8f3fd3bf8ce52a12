"""ALB conformance: target deregistration (draining) as ECS drives it.

The test runs its own ALB stand-in process (``python -m tradai_sim.edge.alb``) against the
conformance cloud, with one listener rule to its own load-balanced ECS service, so its traffic
and targets are its own. The cloud runs at time scale 20: the deregistration delay is
simulated seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conformance.test_ecs import (  # noqa: F401  (net and services are fixtures)
    _describe,
    _target_group,
    _unique,
    _web_service,
    net,
    services,
)
from tests.integration.cloud import RunningCloud, free_port, wait_for

DELAY = 200  # simulated seconds of deregistration delay: 10 wall seconds at 20x


@pytest.fixture
def service(cloud: RunningCloud, net: dict[str, Any],  # noqa: F811
            services: list[str]) -> dict[str, str]:  # noqa: F811
    """A load-balanced service of one task, its target group draining for DELAY."""
    name = _unique("conf-alb")
    services.append(name)
    tg = _target_group(cloud, net, delay=DELAY)
    _web_service(cloud, net, name, tg, grace=300)
    return {"name": name, "target_group": tg}


@pytest.fixture
def alb(cloud: RunningCloud, net: dict[str, Any], service: dict[str, str],  # noqa: F811
        tmp_path: Path) -> Iterator[str]:
    """An ALB stand-in whose listener forwards ``/conf/*`` to the test's service."""
    status = cloud.status()
    port = free_port()
    config = tmp_path / "alb.json"
    config.write_text(json.dumps({
        "main_port": port, "cluster": net["cluster"], "region": cloud.region,
        "aws_endpoint": cloud.endpoint,
        "services": {"conf": {"ecs_service": service["name"], "health_path": "/health"}},
        "rules": [{"prefix": "/conf", "service": "conf"}]}))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "TRADAI_TIME_SCALE": repr(float(status["time_scale"])),
           "TRADAI_CLOCK_ORIGIN": repr(float(status["clock_origin"]))}
    log = (tmp_path / "alb.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "tradai_sim.edge.alb", "--config",
                             str(config)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=20)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/_alb/targets", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _targets(alb: str) -> list[dict[str, Any]]:
    return list(httpx.get(alb + "/_alb/targets", timeout=5).json()["conf"])


def _state(alb: str, task_id: str) -> str | None:
    return next((t["state"] for t in _targets(alb) if t["task_id"] == task_id), None)


def test_deregistering_target_drains_no_new_requests_in_flight_ones_finish(
        cloud: RunningCloud, net: dict[str, Any], service: dict[str, str],  # noqa: F811
        alb: str) -> None:
    """When ECS deregisters a stopping task (DEACTIVATING) its target is ``draining``: the load
    balancer sends it no new requests, and the requests it already has complete; new requests
    go to the replacement once it is healthy.

    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeregisterTargets.html
    """
    [target] = wait_for(lambda: [t for t in _targets(alb) if t["state"] == "healthy"],
                        timeout=30)
    old = target["task_id"]
    slow: dict[str, httpx.Response] = {}
    in_flight = threading.Thread(target=lambda: slow.update(
        r=httpx.get(alb + "/conf/slow", timeout=30)))
    in_flight.start()  # 3 wall seconds at the old task
    time.sleep(0.5)  # the request reaches the task before ECS deregisters it
    cloud.client("ecs").stop_task(cluster=net["cluster"], task=old, reason="conformance drain")
    wait_for(lambda: _state(alb, old) == "draining", timeout=5)
    # New requests while it drains: the replacement answers them, the draining task none.
    answered: list[str] = []

    def replacement_answers() -> bool:
        resp = httpx.get(alb + "/conf/who", timeout=10)
        if resp.status_code == 200:
            answered.append(resp.text.rsplit("/", 1)[-1])
        return len(answered) >= 5

    wait_for(replacement_answers, timeout=30)
    assert _describe(cloud, net, old)["lastStatus"] == "DEACTIVATING"  # still draining
    assert _state(alb, old) == "draining"
    assert old not in answered and len(set(answered)) == 1
    in_flight.join(timeout=30)
    assert slow["r"].status_code == 200 and slow["r"].text.endswith(old)  # it finished
