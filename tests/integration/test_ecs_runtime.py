"""ECS runtime: RunTask starts a real process, StopTask kills it, services keep their count."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for


@pytest.fixture(scope="module")
def net(cloud: RunningCloud) -> dict[str, Any]:
    """Cluster, private subnets {zone: subnet} and the strategy tasks' security group."""
    res = cloud.status()["resources"]
    return {"cluster": res["cluster"], "subnets": res["subnets"]["private"],
            "sg": res["security_groups"]["strategy-tasks"]}


def awsvpc(net: dict[str, Any]) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": list(net["subnets"].values()),
                                    "securityGroups": [net["sg"]],
                                    "assignPublicIp": "DISABLED"}}


def register(cloud: RunningCloud, family: str, source: str, port: int | None = None,
             stop_timeout: int | None = None) -> str:
    container: dict[str, Any] = {
        "name": "main", "image": "test:local", "essential": True, "memory": 128,
        "command": ["python", "-c", textwrap.dedent(source)],
        "environment": [{"name": "FROM_DEFINITION", "value": "yes"}],
    }
    if port:
        container["portMappings"] = [{"containerPort": port, "protocol": "tcp"}]
    if stop_timeout:
        container["stopTimeout"] = stop_timeout
    return cloud.client("ecs").register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[container])["taskDefinition"]["taskDefinitionArn"]


def run(cloud: RunningCloud, net: dict[str, Any], task_def: str, env: dict[str, str] | None = None,
        count: int = 1) -> list[dict[str, Any]]:
    overrides = {"containerOverrides": [{"name": "main", "environment": [
        {"name": k, "value": v} for k, v in (env or {}).items()]}]}
    return cloud.client("ecs").run_task(
        cluster=net["cluster"], taskDefinition=task_def, launchType="FARGATE", count=count,
        networkConfiguration=awsvpc(net), overrides=overrides)["tasks"]


def describe(cloud: RunningCloud, net: dict[str, Any], arn: str) -> dict[str, Any]:
    return cloud.client("ecs").describe_tasks(cluster=net["cluster"], tasks=[arn])["tasks"][0]


def wait_stopped(cloud: RunningCloud, net: dict[str, Any], arn: str,
                 timeout: float = 20) -> dict[str, Any]:
    return wait_for(lambda: (t := describe(cloud, net, arn))["lastStatus"] == "STOPPED" and t,
                    timeout=timeout)


def runtime_tasks(cloud: RunningCloud) -> list[dict[str, Any]]:
    return cloud.control("/ecs/tasks")["tasks"]


def runtime_task(cloud: RunningCloud, arn: str) -> dict[str, Any]:
    return next(t for t in runtime_tasks(cloud) if t["task_arn"] == arn)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# Writes what the runtime gave it: two of its environment's values, as JSON.
WRITE_AND_EXIT = """
import json, os, pathlib, sys
pathlib.Path(os.environ["OUT"]).write_text(json.dumps({
    "from_definition": os.environ.get("FROM_DEFINITION"),
    "endpoint": os.environ.get("AWS_ENDPOINT_URL")}))
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""

SLEEP = """
import time
time.sleep(120)
"""

IGNORE_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(120)
"""

SERVER = """
import os, socket, time
s = socket.socket(); s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen()
time.sleep(300)
"""


def test_run_task_runs_the_container_command(cloud: RunningCloud, net: dict[str, Any],
                                             tmp_path: Path) -> None:
    td = register(cloud, "t-ecs-write", WRITE_AND_EXIT)
    out = tmp_path / "out.txt"
    [task] = run(cloud, net, td, {"OUT": str(out)})
    done = wait_stopped(cloud, net, task["taskArn"])
    seen = json.loads(out.read_text())
    assert seen["from_definition"] == "yes"
    eni = {d["name"]: d["value"] for d in done["attachments"][0]["details"]}
    subnet, az = eni["subnetId"], done["availabilityZone"]
    assert net["subnets"][az] == subnet
    # The task reaches AWS through its subnet's address of the VPC router.
    subnets = requests.get(f"{cloud.endpoint}/_sim/network", timeout=10).json()["subnets"]
    assert seen["endpoint"] == next(s["aws_endpoint"] for s in subnets if s["id"] == subnet)
    assert done["containers"][0]["exitCode"] == 0
    assert done["stopCode"] == "EssentialContainerExited"
    assert done["stoppedReason"] == "Essential container in task exited"
    assert done["stoppedAt"] >= done["startedAt"]


def test_non_zero_exit_code_is_the_containers(cloud: RunningCloud, net: dict[str, Any],
                                              tmp_path: Path) -> None:
    td = register(cloud, "t-ecs-write", WRITE_AND_EXIT)
    [task] = run(cloud, net, td, {"OUT": str(tmp_path / "o"), "EXIT_CODE": "3"})
    done = wait_stopped(cloud, net, task["taskArn"])
    assert done["containers"][0]["exitCode"] == 3
    assert done["containers"][0]["lastStatus"] == "STOPPED"
    assert done["stopCode"] == "EssentialContainerExited"


def test_describe_tasks_does_not_advance_a_running_task(cloud: RunningCloud,
                                                        net: dict[str, Any]) -> None:
    td = register(cloud, "t-ecs-sleep", SLEEP)
    [task] = run(cloud, net, td)
    try:
        # It reaches RUNNING as its process starts (PROVISIONING, PENDING, ACTIVATING before,
        # as on Fargate); from then on describing it must not move it.
        wait_for(lambda: describe(cloud, net, task["taskArn"])["lastStatus"] == "RUNNING",
                 timeout=30)
        for _ in range(5):  # moto alone would reach STOPPED after four describes
            assert describe(cloud, net, task["taskArn"])["lastStatus"] == "RUNNING"
    finally:
        cloud.client("ecs").stop_task(cluster=net["cluster"], task=task["taskArn"])
        wait_stopped(cloud, net, task["taskArn"])


def test_stop_task_terminates_the_process_group(cloud: RunningCloud,
                                                net: dict[str, Any]) -> None:
    td = register(cloud, "t-ecs-sleep", SLEEP)
    [task] = run(cloud, net, td)
    pid = wait_for(lambda: runtime_task(cloud, task["taskArn"])["pid"], timeout=10)  # RUNNING
    assert alive(pid)
    cloud.client("ecs").stop_task(cluster=net["cluster"], task=task["taskArn"],
                                  reason="test says stop")
    done = wait_stopped(cloud, net, task["taskArn"])
    assert done["containers"][0]["exitCode"] == 143  # SIGTERM
    assert done["stopCode"] == "UserInitiated"
    assert done["stoppedReason"] == "test says stop"
    assert not alive(pid)


def test_stop_task_kills_after_the_stop_timeout(cloud: RunningCloud,
                                                net: dict[str, Any]) -> None:
    # stopTimeout bounds real shutdown work: 2 wall seconds whatever the time scale
    td = register(cloud, "t-ecs-stubborn", IGNORE_SIGTERM, stop_timeout=2)
    [task] = run(cloud, net, td)
    pid = wait_for(lambda: runtime_task(cloud, task["taskArn"])["pid"], timeout=10)  # RUNNING
    wait_for(lambda: ignores_sigterm(pid), timeout=10)  # its handler is installed
    started = time.time()
    cloud.client("ecs").stop_task(cluster=net["cluster"], task=task["taskArn"])
    done = wait_stopped(cloud, net, task["taskArn"])
    assert done["containers"][0]["exitCode"] == 137  # SIGKILL
    assert time.time() - started >= 2 - 0.1


def ignores_sigterm(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn"))
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


def test_run_task_count_spreads_over_the_azs(cloud: RunningCloud, net: dict[str, Any]) -> None:
    td = register(cloud, "t-ecs-sleep", SLEEP)
    tasks = run(cloud, net, td, count=2)
    try:
        assert {t["availabilityZone"] for t in tasks} == set(net["subnets"])
    finally:
        for t in tasks:
            cloud.client("ecs").stop_task(cluster=net["cluster"], task=t["taskArn"])
        for t in tasks:
            wait_stopped(cloud, net, t["taskArn"])


@pytest.fixture
def service(cloud: RunningCloud, net: dict[str, Any]) -> Iterator[str]:
    td = register(cloud, "t-ecs-server", SERVER, port=8080)
    ecs = cloud.client("ecs")
    ecs.create_service(cluster=net["cluster"], serviceName="t-svc", taskDefinition=td,
                       desiredCount=2, launchType="FARGATE", networkConfiguration=awsvpc(net))
    try:
        yield "t-svc"
    finally:
        ecs.update_service(cluster=net["cluster"], service="t-svc", desiredCount=0)
        wait_for(lambda: not live(cloud, "t-svc"), timeout=20)
        ecs.delete_service(cluster=net["cluster"], service="t-svc", force=True)


def live(cloud: RunningCloud, service: str) -> list[dict[str, Any]]:
    return [t for t in runtime_tasks(cloud) if t["group"] == f"service:{service}"
            and t["last_status"] == "RUNNING"]


def test_service_keeps_its_desired_count_and_replaces_a_crashed_task(
        cloud: RunningCloud, net: dict[str, Any], service: str) -> None:
    ecs = cloud.client("ecs")
    first = wait_for(lambda: len(t := live(cloud, service)) == 2 and t, timeout=10)
    assert {t["az"] for t in first} == set(net["subnets"])  # one per AZ
    assert all(t["port"] and t["pid"] for t in first) and first[0]["port"] != first[1]["port"]
    wait_for(lambda: ecs.describe_services(cluster=net["cluster"], services=[service])[
        "services"][0]["runningCount"] == 2, timeout=5)

    victim = first[0]
    killed_at = time.time()
    os.kill(victim["pid"], signal.SIGKILL)
    dead = wait_stopped(cloud, net, victim["task_arn"])
    assert dead["containers"][0]["exitCode"] == 137
    assert dead["stopCode"] == "EssentialContainerExited"

    new = wait_for(lambda: [t for t in live(cloud, service)
                            if t["task_arn"] not in {f["task_arn"] for f in first}], timeout=10)
    # replaced at once, as ECS does: only the new task's own start-up passes
    assert time.time() - killed_at < 5
    stopped_at = runtime_task(cloud, victim["task_arn"])["stopped_at"]
    assert new[0]["created_at"] - stopped_at < 20  # simulated: within 1 wall s at 20x
    assert new[0]["az"] == victim["az"]  # back into the AZ that lost its task
    assert new[0]["group"] == f"service:{service}"


def test_service_follows_its_desired_count(cloud: RunningCloud, net: dict[str, Any],
                                           service: str) -> None:
    ecs = cloud.client("ecs")
    wait_for(lambda: len(live(cloud, service)) == 2, timeout=10)
    ecs.update_service(cluster=net["cluster"], service=service, desiredCount=1)
    [kept] = wait_for(lambda: len(t := live(cloud, service)) == 1 and t, timeout=10)
    wait_for(lambda: ecs.describe_services(cluster=net["cluster"], services=[service])[
        "services"][0]["runningCount"] == 1, timeout=5)
    ecs.update_service(cluster=net["cluster"], service=service, desiredCount=2)
    both = wait_for(lambda: len(t := live(cloud, service)) == 2 and t, timeout=10)
    assert kept["task_arn"] in {t["task_arn"] for t in both}
    assert {t["az"] for t in both} == set(net["subnets"])


def test_status_lists_task_processes(cloud: RunningCloud) -> None:
    ecs = cloud.status()["parts"]["ecs"]
    assert {"task_arn", "pid", "port", "az", "subnet", "last_status", "exit_code",
            "group"} <= set(ecs["tasks"][0])
