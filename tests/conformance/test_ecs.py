"""ECS conformance: task lifecycle, service replacement and throttling, stopTimeout, draining.

Each test is one AWS behaviour, named after it, citing the page it follows. The cloud runs at
time scale 20: waits (deregistration delay, throttle delays) are simulated seconds; a
container's stopTimeout is wall seconds (it bounds real shutdown work).
"""

from __future__ import annotations

import itertools
import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.cloud import RunningCloud, host_only_names, wait_for


@pytest.fixture(scope="module")
def net(cloud: RunningCloud) -> dict[str, Any]:
    res = cloud.status()["resources"]
    return {"cluster": res["cluster"], "subnets": res["subnets"]["private"],
            "sg": res["security_groups"]["strategy-tasks"], "vpc": res.get("vpc")}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _awsvpc(net: dict[str, Any]) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": list(net["subnets"].values()),
                                    "securityGroups": [net["sg"]], "assignPublicIp": "DISABLED"}}


def _register(cloud: RunningCloud, source: str | None = None, *, argv: list[str] | None = None,
              port: int | None = None, stop_timeout: int | None = None,
              task_role: str | None = None) -> str:
    container: dict[str, Any] = {
        "name": "main", "image": "test:local", "essential": True, "memory": 128,
        "command": argv or ["python", "-c", textwrap.dedent(source or "")]}
    if port:
        container["portMappings"] = [{"containerPort": port, "protocol": "tcp"}]
    if stop_timeout:
        container["stopTimeout"] = stop_timeout
    role = {"taskRoleArn": task_role} if task_role else {}
    return cloud.client("ecs").register_task_definition(
        family=_unique("conf-ecs"), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[container], **role)["taskDefinition"][
        "taskDefinitionArn"]


def _describe(cloud: RunningCloud, net: dict[str, Any], arn: str) -> dict[str, Any]:
    return cloud.client("ecs").describe_tasks(cluster=net["cluster"], tasks=[arn])["tasks"][0]


def _runtime(cloud: RunningCloud, arn: str) -> dict[str, Any]:
    return next(t for t in cloud.control("/ecs/tasks")["tasks"] if t["task_arn"] == arn)


def _in_group(cloud: RunningCloud, group: str) -> list[dict[str, Any]]:
    return [t for t in cloud.control("/ecs/tasks")["tasks"] if t["group"] == group]


def _wait_status(cloud: RunningCloud, net: dict[str, Any], arn: str, status: str,
                 timeout: float = 30) -> dict[str, Any]:
    return wait_for(lambda: (t := _describe(cloud, net, arn))["lastStatus"] == status and t,
                    timeout=timeout)


SLEEP = """
import time
time.sleep(300)
"""

# Takes 2 wall seconds to shut down cleanly on SIGTERM (files in its cwd unless told).
SLOW_SHUTDOWN = """
import os, signal, sys, time
def term(*_):
    open(os.environ.get("TERM_LOG", "term"), "w").write("term")
    time.sleep(2.0)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
open(os.environ.get("READY", "ready"), "w").write("ready")
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def services(cloud: RunningCloud, net: dict[str, Any]) -> Iterator[list[str]]:
    """Services a test creates; scaled to 0 and deleted afterwards."""
    names: list[str] = []
    yield names
    ecs = cloud.client("ecs")
    for name in names:
        ecs.update_service(cluster=net["cluster"], service=name, desiredCount=0)
    for name in names:
        wait_for(lambda n=name: all(t["last_status"] == "STOPPED"
                                    for t in _in_group(cloud, f"service:{n}")), timeout=60)
        ecs.delete_service(cluster=net["cluster"], service=name, force=True)


def test_fargate_task_moves_through_the_documented_lifecycle_states(
        cloud: RunningCloud, net: dict[str, Any]) -> None:
    """RunTask answers PROVISIONING / desired RUNNING; the task passes PROVISIONING, PENDING,
    ACTIVATING, RUNNING, and on StopTask DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED.

    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html
    """
    ecs = cloud.client("ecs")
    [task] = ecs.run_task(cluster=net["cluster"], taskDefinition=_register(cloud, SLEEP),
                          launchType="FARGATE", networkConfiguration=_awsvpc(net))["tasks"]
    assert (task["lastStatus"], task["desiredStatus"]) == ("PROVISIONING", "RUNNING")
    running = _wait_status(cloud, net, task["taskArn"], "RUNNING")
    assert running["containers"][0]["lastStatus"] == "RUNNING"
    assert _runtime(cloud, task["taskArn"])["pid"]  # RUNNING only once the process is up
    ecs.stop_task(cluster=net["cluster"], task=task["taskArn"], reason="conformance stop")
    stopped = _wait_status(cloud, net, task["taskArn"], "STOPPED")
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "conformance stop"
    history = [s for s, _ in _runtime(cloud, task["taskArn"])["history"]]
    assert history == ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING",
                       "STOPPING", "DEPROVISIONING", "STOPPED"]


# Writes what the container learns about itself, and its environment's names, as JSON.
READ_METADATA = """
import json, os, pathlib, urllib.request
uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())
pathlib.Path(os.environ["OUT"]).write_text(json.dumps({
    "uri": uri, "task": get(uri + "/task") if uri else None,
    "container": get(uri) if uri else None, "names": sorted(os.environ)}))
"""


def test_a_container_learns_its_task_from_the_task_metadata_endpoint_v4(
        cloud: RunningCloud, net: dict[str, Any], tmp_path: Any) -> None:
    """Fargate injects ``ECS_CONTAINER_METADATA_URI_V4`` into every container; ``${URI}/task``
    answers the task's ARN, cluster, family, revision, statuses, limits (CPU in vCPUs, memory
    in MiB), Availability Zone, launch type and containers, and ``${URI}`` the container's
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
    task-metadata-endpoint-v4-fargate.html, .../task-metadata-endpoint-v4-fargate-response.html).
    The endpoint is link-local: locally it is the control plane's, reached directly, so no
    route or network fault cuts it. Nothing else names the task: AWS sets no such variable."""
    out = tmp_path / "metadata.json"
    td = _register(cloud, READ_METADATA)
    [task] = cloud.client("ecs").run_task(
        cluster=net["cluster"], taskDefinition=td, launchType="FARGATE",
        networkConfiguration=_awsvpc(net), overrides={"containerOverrides": [
            {"name": "main", "environment": [{"name": "OUT", "value": str(out)}]}]})["tasks"]
    done = _wait_status(cloud, net, task["taskArn"], "STOPPED")
    assert done["containers"][0]["exitCode"] == 0
    seen = json.loads(out.read_text())
    meta = seen["task"]
    assert meta["TaskARN"] == task["taskArn"] and meta["Cluster"] == net["cluster"]
    assert meta["AvailabilityZone"] == done["availabilityZone"]
    family, revision = td.rsplit("/", 1)[1].split(":")
    assert (meta["Family"], meta["Revision"]) == (family, revision)
    assert meta["Limits"] == {"CPU": 0.25, "Memory": 512}  # cpu 256 units, 512 MiB
    assert (meta["KnownStatus"], meta["DesiredStatus"]) == ("RUNNING", "RUNNING")
    assert meta["LaunchType"] == "FARGATE"
    assert [c["Name"] for c in meta["Containers"]] == ["main"]
    assert seen["container"]["Name"] == "main"
    assert seen["container"]["Labels"]["com.amazonaws.ecs.task-arn"] == task["taskArn"]
    assert seen["uri"].startswith(f"{cloud.endpoint}/_sim/ecs/metadata/v4/")
    assert not {"TRADAI_TASK_ARN", "TRADAI_AZ", "TRADAI_SUBNET_ID"} & set(seen["names"])


# Writes what the container finds about its credentials, as JSON.
READ_CREDENTIALS = """
import json, os, pathlib, urllib.error, urllib.request
import boto3
uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
def status(token):
    req = urllib.request.Request(uri, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
ok, doc = status(os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")) if uri else (None, None)
wrong, _ = status("not-this-task") if uri else (None, None)
caller = None
if uri:
    caller = boto3.client("sts").get_caller_identity()["Arn"]
pathlib.Path(os.environ["OUT"]).write_text(json.dumps({
    "uri": uri, "ok": ok, "doc": doc, "wrong_token": wrong, "caller": caller,
    "names": sorted(os.environ)}))
"""


def test_a_container_gets_its_task_role_from_the_credentials_endpoint(
        cloud: RunningCloud, net: dict[str, Any], tmp_path: Any) -> None:
    """ECS gives a task's containers the address of an endpoint serving the task role's
    temporary credentials, never keys in the environment; the SDKs' container provider reads
    them there (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
    task-iam-roles.html). Fargate's link-local address is absent here, so the container gets
    the provider's full-URI form with an authorization token
    (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html):
    the answer has AccessKeyId, SecretAccessKey, Token, Expiration and RoleArn, another
    token is refused, and boto3 in the container calls AWS as the task role. A task without a
    task role gets no credentials."""
    iam = cloud.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=_unique("conf-task-role"),
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    seen = {}
    for name, task_role in (("with", role["Arn"]), ("without", None)):
        out = tmp_path / f"{name}.json"
        [task] = cloud.client("ecs").run_task(
            cluster=net["cluster"], taskDefinition=_register(cloud, READ_CREDENTIALS,
                                                             task_role=task_role),
            launchType="FARGATE", networkConfiguration=_awsvpc(net),
            overrides={"containerOverrides": [
                {"name": "main", "environment": [{"name": "OUT", "value": str(out)}]}]})["tasks"]
        done = _wait_status(cloud, net, task["taskArn"], "STOPPED")
        assert done["containers"][0]["exitCode"] == 0, name
        seen[name] = json.loads(out.read_text())

    got = seen["with"]
    assert got["uri"].startswith(f"{cloud.endpoint}/_sim/ecs/credentials/")
    assert got["ok"] == 200 and got["wrong_token"] == 401
    assert set(got["doc"]) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration",
                               "RoleArn"}
    assert got["doc"]["RoleArn"] == role["Arn"]
    assert f":assumed-role/{role['RoleName']}/" in got["caller"]
    keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert not keys & set(got["names"])
    none = seen["without"]
    assert none["uri"] is None and not keys & set(none["names"])
    assert "AWS_CONTAINER_AUTHORIZATION_TOKEN" not in none["names"]


def test_a_container_sees_its_definitions_environment_not_the_hosts(
        cloud: RunningCloud, net: dict[str, Any], tmp_path: Any) -> None:
    """A Fargate container's environment is its image's, its task definition's (and
    overrides') and what ECS injects (https://docs.aws.amazon.com/AmazonECS/latest/
    developerguide/taskdef-envfiles.html, .../task-metadata-endpoint-v4-fargate.html): never
    the shell's that started the stack. Locally the image's part is the interpreter's paths
    and locale (``IMAGE_ENV``); any other name of the cloud process's environment stays out."""
    host_only = host_only_names(cloud)
    assert host_only, "the cloud's environment has only image names: nothing to check"

    out = tmp_path / "env.json"
    [task] = cloud.client("ecs").run_task(
        cluster=net["cluster"], taskDefinition=_register(cloud, READ_METADATA),
        launchType="FARGATE", networkConfiguration=_awsvpc(net),
        overrides={"containerOverrides": [
            {"name": "main", "environment": [{"name": "OUT", "value": str(out)}]}]})["tasks"]
    done = _wait_status(cloud, net, task["taskArn"], "STOPPED")
    assert done["containers"][0]["exitCode"] == 0
    names = set(json.loads(out.read_text())["names"])
    assert "OUT" in names and "ECS_CONTAINER_METADATA_URI_V4" in names
    assert "PATH" in names  # the image's part
    assert not host_only & names, sorted(host_only & names)


def test_service_scheduler_launches_a_replacement_as_soon_as_a_task_stops(
        cloud: RunningCloud, net: dict[str, Any], services: list[str]) -> None:
    """A stopped service task is replaced at once (no hold-off): the replacement's wait is only
    its own start-up.

    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_services.html
    """
    name = _unique("conf-replace")
    services.append(name)
    ecs = cloud.client("ecs")
    ecs.create_service(cluster=net["cluster"], serviceName=name, desiredCount=1,
                       taskDefinition=_register(cloud, SLEEP), launchType="FARGATE",
                       networkConfiguration=_awsvpc(net))
    group = f"service:{name}"
    [first] = wait_for(lambda: [t for t in _in_group(cloud, group)
                                if t["last_status"] == "RUNNING"], timeout=20)
    ecs.stop_task(cluster=net["cluster"], task=first["task_arn"], reason="conformance stop")
    [new] = wait_for(lambda: [t for t in _in_group(cloud, group) if t["task_arn"] !=
                              first["task_arn"] and t["last_status"] == "RUNNING"], timeout=20)
    old = _wait_status(cloud, net, first["task_arn"], "STOPPED")
    stopped_at = _runtime(cloud, first["task_arn"])["stopped_at"]
    assert old["stopCode"] == "UserInitiated"
    # Simulated seconds: the replacement was RUNNING within a wall second or so of the old
    # task's end (it started while the old one shut down), not after a 30 s hold-off.
    assert new["started_at"] - stopped_at < 15


def test_service_throttle_logic_delays_tasks_that_repeatedly_fail_to_start(
        cloud: RunningCloud, net: dict[str, Any], services: list[str]) -> None:
    """Tasks that go from PENDING to STOPPED again and again are relaunched with increasing
    delays, and the service event says it "is unable to consistently start tasks
    successfully".

    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-throttle-logic.html
    """
    name = _unique("conf-throttle")
    services.append(name)
    ecs = cloud.client("ecs")
    td = _register(cloud, argv=["/nonexistent/conformance-entrypoint"])
    ecs.create_service(cluster=net["cluster"], serviceName=name, desiredCount=1,
                       taskDefinition=td, launchType="FARGATE",
                       networkConfiguration=_awsvpc(net))
    group = f"service:{name}"
    tasks = wait_for(lambda: len(t := _in_group(cloud, group)) >= 5 and t, timeout=60)
    events = ecs.describe_services(cluster=net["cluster"], services=[name])["services"][0][
        "events"]
    assert any(e["message"] == f"(service {name}) is unable to consistently start tasks "
               "successfully." for e in events)
    starts = sorted(t["created_at"] for t in tasks)[:5]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(t["stop_code"] == "TaskFailedToStart" and t["started_at"] is None
               for t in tasks if t["last_status"] == "STOPPED")
    # After the second failure the delays grow: 15, 30, 60 simulated seconds.
    assert gaps[1] >= 15 - 1 and gaps[2] >= 30 - 1 and gaps[3] >= 60 - 1
    assert gaps[3] > gaps[2] > gaps[1]


def test_stop_timeout_is_the_wall_time_a_container_gets_to_shut_down(
        cloud: RunningCloud, net: dict[str, Any], tmp_path: Any) -> None:
    """SIGTERM, then SIGKILL only after the container's stopTimeout: a container that needs 2 s
    to exit with stopTimeout 5 exits cleanly (code 0), whatever the clock's scale.

    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
    (Container timeouts: stopTimeout)
    """
    ecs = cloud.client("ecs")
    ready, term_log = tmp_path / "ready", tmp_path / "term"
    [task] = ecs.run_task(
        cluster=net["cluster"], taskDefinition=_register(cloud, SLOW_SHUTDOWN, stop_timeout=5),
        launchType="FARGATE", networkConfiguration=_awsvpc(net),
        overrides={"containerOverrides": [{"name": "main", "environment": [
            {"name": "READY", "value": str(ready)},
            {"name": "TERM_LOG", "value": str(term_log)}]}]})["tasks"]
    wait_for(ready.exists, timeout=20)
    asked = time.time()
    ecs.stop_task(cluster=net["cluster"], task=task["taskArn"])
    stopped = _wait_status(cloud, net, task["taskArn"], "STOPPED", timeout=20)
    assert term_log.exists()
    assert stopped["containers"][0]["exitCode"] == 0  # exited on its own, not SIGKILLed (137)
    assert time.time() - asked >= 2.0  # it was given its 2 wall seconds


def test_stopping_a_service_task_drains_its_target_for_the_deregistration_delay(
        cloud: RunningCloud, net: dict[str, Any], services: list[str], tmp_path: Any) -> None:
    """ECS deregisters a stopping task from its target group and waits the group's
    deregistration delay (DEACTIVATING, out of the RUNNING task list the load balancer
    registers) before it sends SIGTERM; the replacement starts meanwhile.

    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html
    """
    elbv2 = cloud.client("elbv2")
    vpc = cloud.client("ec2").describe_subnets(SubnetIds=[next(iter(net["subnets"].values()))])[
        "Subnets"][0]["VpcId"]
    tg = elbv2.create_target_group(Name=_unique("conf-tg"), Protocol="HTTP", Port=8080,
                                   VpcId=vpc, TargetType="ip")["TargetGroups"][0]
    elbv2.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "60"}])
    name = _unique("conf-drain")
    services.append(name)
    ecs = cloud.client("ecs")
    ecs.create_service(
        cluster=net["cluster"], serviceName=name, desiredCount=1, launchType="FARGATE",
        taskDefinition=_register(cloud, SLOW_SHUTDOWN, port=8080, stop_timeout=5),
        networkConfiguration=_awsvpc(net),
        loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "main",
                        "containerPort": 8080}],
        healthCheckGracePeriodSeconds=300)  # it serves no health check: not replaced for that
    group = f"service:{name}"
    [first] = wait_for(lambda: [t for t in _in_group(cloud, group)
                                if t["last_status"] == "RUNNING"], timeout=20)
    ecs.stop_task(cluster=net["cluster"], task=first["task_arn"])
    draining = _describe(cloud, net, first["task_arn"])
    assert (draining["lastStatus"], draining["desiredStatus"]) == ("DEACTIVATING", "STOPPED")
    registered = ecs.list_tasks(cluster=net["cluster"], desiredStatus="RUNNING")["taskArns"]
    assert first["task_arn"] not in registered  # the load balancer no longer sends it requests
    # The replacement starts while the old task drains.
    wait_for(lambda: [t for t in _in_group(cloud, group) if t["task_arn"] != first["task_arn"]
                      and t["last_status"] == "RUNNING"], timeout=20)
    assert _describe(cloud, net, first["task_arn"])["lastStatus"] == "DEACTIVATING"
    done = _wait_status(cloud, net, first["task_arn"], "STOPPED", timeout=30)
    history = dict(_runtime(cloud, first["task_arn"])["history"])
    assert history["STOPPING"] - history["DEACTIVATING"] >= 60 - 1  # drained 60 simulated s
    assert done["containers"][0]["exitCode"] == 0


# Answers every path with its task ARN (/slow after 3 wall seconds); /health with
# HEALTH_STATUS (default 200).
WEB = """
import http.server, json, os, time, urllib.request
# Its own ARN, from the task metadata endpoint v4 as on Fargate.
with urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=10) as r:
    ARN = json.loads(r.read())["TaskARN"].encode()
HEALTH = int(os.environ.get("HEALTH_STATUS", "200"))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if "slow" in self.path:
            time.sleep(3)
        self.send_response(HEALTH if self.path == "/health" else 200)
        self.send_header("Content-Length", str(len(ARN)))
        self.end_headers()
        self.wfile.write(ARN)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def _target_group(cloud: RunningCloud, net: dict[str, Any], delay: int = 20) -> str:
    """A target group checked every 5 simulated s, unhealthy after 2 failures."""
    elbv2 = cloud.client("elbv2")
    vpc = cloud.client("ec2").describe_subnets(SubnetIds=[next(iter(net["subnets"].values()))])[
        "Subnets"][0]["VpcId"]
    arn: str = elbv2.create_target_group(
        Name=_unique("conf-tg"), Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
        HealthCheckPath="/health", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2, Matcher={"HttpCode": "200"})[
        "TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
    return arn


def _web_service(cloud: RunningCloud, net: dict[str, Any], name: str, tg: str, *,
                 health_status: int = 200, grace: int | None = None) -> None:
    td = cloud.client("ecs").register_task_definition(
        family=_unique("conf-web"), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[{
            "name": "main", "image": "test:local", "essential": True, "memory": 128,
            "command": ["python", "-c", WEB],
            "environment": [{"name": "HEALTH_STATUS", "value": str(health_status)}],
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}])[
        "taskDefinition"]["taskDefinitionArn"]
    extra = {} if grace is None else {"healthCheckGracePeriodSeconds": grace}
    cloud.client("ecs").create_service(
        cluster=net["cluster"], serviceName=name, desiredCount=1, launchType="FARGATE",
        taskDefinition=td, networkConfiguration=_awsvpc(net),
        loadBalancers=[{"targetGroupArn": tg, "containerName": "main", "containerPort": 8080}],
        **extra)


def _alb_targets(cloud: RunningCloud) -> dict[str, list[dict[str, Any]]]:
    alb = cloud.status()["resources"]["endpoints"]["alb"]
    return dict(httpx.get(alb + "/_alb/targets", timeout=5).json())


def test_create_service_keeps_the_health_check_grace_period(
        cloud: RunningCloud, net: dict[str, Any], services: list[str]) -> None:
    """CreateService's healthCheckGracePeriodSeconds is part of the service: DescribeServices
    returns it.

    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    """
    name = _unique("conf-grace")
    services.append(name)
    _web_service(cloud, net, name, _target_group(cloud, net), grace=45)
    [svc] = cloud.client("ecs").describe_services(cluster=net["cluster"],
                                                  services=[name])["services"]
    assert svc["healthCheckGracePeriodSeconds"] == 45


def test_task_failing_elb_health_checks_is_replaced_after_the_grace_period(
        cloud: RunningCloud, net: dict[str, Any], services: list[str]) -> None:
    """A RUNNING task its target group reports unhealthy is stopped by the service scheduler
    (ServiceSchedulerInitiated, "Task failed ELB health checks in (target-group ARN)") and
    replaced, but only once healthCheckGracePeriodSeconds (wall seconds here: it bounds the
    task's start-up work) has passed since it started; a service whose task passes its health
    checks is left alone.

    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-unhealthy-event-messages.html
    """
    grace = 6
    sick, well = _unique("conf-sick"), _unique("conf-well")
    services.extend([sick, well])
    sick_tg, well_tg = _target_group(cloud, net), _target_group(cloud, net)
    _web_service(cloud, net, sick, sick_tg, health_status=500, grace=grace)
    _web_service(cloud, net, well, well_tg, grace=0)
    [first] = wait_for(lambda: [t for t in _in_group(cloud, f"service:{sick}")
                                if t["last_status"] == "RUNNING"], timeout=20)
    stopped = wait_for(lambda: (t := _describe(cloud, net, first["task_arn"]))[
        "desiredStatus"] == "STOPPED" and t, timeout=grace + 30)
    assert stopped["stopCode"] == "ServiceSchedulerInitiated"
    assert stopped["stoppedReason"] == f"Task failed ELB health checks in (target-group {sick_tg})"
    history = dict(_runtime(cloud, first["task_arn"])["history"])
    wall_until_stop = (history["DEACTIVATING"] - history["RUNNING"]) / cloud.time_scale
    assert grace - 0.2 <= wall_until_stop <= grace + 10  # not before the grace period ended
    events = cloud.client("ecs").describe_services(cluster=net["cluster"], services=[sick])[
        "services"][0]["events"]
    assert any(f"(task {first['task_arn'].rsplit('/', 1)[-1]})" in e["message"]
               and f"is unhealthy in (target-group {sick_tg})" in e["message"] for e in events)
    wait_for(lambda: [t for t in _in_group(cloud, f"service:{sick}")
                      if t["task_arn"] != first["task_arn"]], timeout=20)  # its replacement
    # The healthy service, checked all along, kept its one task.
    assert any(t["state"] == "healthy" for t in _alb_targets(cloud).get(well, []))
    tasks = _in_group(cloud, f"service:{well}")
    assert len(tasks) == 1 and tasks[0]["last_status"] == "RUNNING"
