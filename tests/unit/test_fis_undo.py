"""Each action's fault, and its undo when the experiment is stopped: the effectors other parts
own are fakes here; processes, the SQLite lock and the exchange knobs are real."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fis_fakes import Harness, definition, harness, real, until
from tradai_sim.cloud.fis.model import ExperimentRun
from tradai_sim.cloud.fis.targets import Resource


def subnet(i: int) -> Resource:
    return Resource(f"arn:aws:ec2:eu-central-1:1:subnet/subnet-{i}", "aws:ec2:subnet",
                    f"subnet-{i}")


def run_and_stop(h: Harness, body: dict[str, Any], action: str,
                 holding: Any = lambda: True) -> ExperimentRun:
    """Start, wait until the action runs and its fault holds, stop, wait for the end."""
    run = h.start(body)
    until(lambda: run.actions[action].status == "running" or run.terminal)
    assert run.actions[action].status == "running", run.actions[action].reason
    assert holding()
    h.executor.stop(run.id)
    until(lambda: run.terminal)
    assert run.status == "stopped" and run.actions[action].status == "stopped"
    return run


@dataclass
class FakeEffector:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    active: set[str] = field(default_factory=set)

    def _open(self, what: str, args: Any) -> str:
        fid = f"{what}-{len(self.calls)}"
        self.calls.append((what, args))
        self.active.add(fid)
        return fid

    def _close(self, fid: str) -> None:
        self.calls.append(("end", fid))
        self.active.discard(fid)

    def disrupt(self, subnet_ids: list[str], scope: str, prefix_list_id: str | None,
                label: str) -> str:
        return self._open("disrupt", (subnet_ids, scope, prefix_list_id, label))

    def end_disruption(self, disruption_id: str) -> None:
        self._close(disruption_id)

    def outage(self, az: str, kind: str, label: str) -> str:
        return self._open("outage", (az, kind, label))

    def end_outage(self, outage_id: str) -> None:
        self._close(outage_id)

    def insufficient_capacity(self, groups: list[str], azs: list[str], percentage: int,
                              label: str) -> str:
        return self._open("capacity", (groups, azs, percentage, label))

    def end_insufficient_capacity(self, fault_id: str) -> None:
        self._close(fault_id)


def test_network_disruption_ends_when_the_experiment_stops(tmp_path: Path) -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html
    (aws:network:disrupt-connectivity) and
    https://docs.aws.amazon.com/fis/latest/userguide/stop-experiment.html"""
    net = FakeEffector()
    targets = {"S": {"resourceType": "aws:ec2:subnet", "resourceTags": {"Name": "a"},
                     "selectionMode": "ALL"}}
    action = {"actionId": "aws:network:disrupt-connectivity", "targets": {"Subnets": "S"},
              "parameters": {"duration": "PT10M", "scope": "availability-zone"}}
    with harness(tmp_path, resources={"S": [subnet(1), subnet(2)]}, create=real) as h:
        h.ctx.resources["_network"] = net
        run = run_and_stop(h, definition({"Cut": action}, targets), "Cut",
                           lambda: len(net.active) == 1)
        assert net.calls[0] == ("disrupt", (["subnet-1", "subnet-2"], "availability-zone", None,
                                            f"fis:{run.id}:Cut"))
        assert net.active == set()


def test_network_disruption_ends_by_itself_after_its_duration(tmp_path: Path) -> None:
    net = FakeEffector()
    targets = {"S": {"resourceType": "aws:ec2:subnet", "resourceTags": {"Name": "a"},
                     "selectionMode": "ALL"}}
    action = {"actionId": "aws:network:disrupt-connectivity", "targets": {"Subnets": "S"},
              "parameters": {"duration": "PT1M"}}
    with harness(tmp_path, resources={"S": [subnet(1)]}, create=real) as h:
        h.ctx.resources["_network"] = net
        run = h.start(definition({"Cut": action}, targets))
        until(lambda: run.terminal)
        assert run.status == "completed" and net.active == set()
        assert net.calls[0][1][1] == "all"  # the scope's default
        cut = run.actions["Cut"]
        assert cut.end_time - cut.start_time >= 60


def test_insufficient_capacity_and_az_outage_are_lifted_on_stop(tmp_path: Path) -> None:
    fake = FakeEffector()
    group = Resource("arn:aws:autoscaling:eu-central-1:1:autoScalingGroup:u:"
                     "autoScalingGroupName/nat", "aws:ec2:autoscaling-group", "nat")
    targets = {"G": {"resourceType": "aws:ec2:autoscaling-group", "resourceTags": {"N": "nat"},
                     "selectionMode": "ALL"}}
    actions = {
        "Ice": {"actionId": "aws:ec2:asg-insufficient-instance-capacity-error",
                "targets": {"AutoScalingGroups": "G"},
                "parameters": {"duration": "PT10M", "availabilityZoneIdentifiers":
                               "eu-central-1a,eu-central-1b"}},
        "Dark": {"actionId": "tradai:az:outage", "parameters": {
            "availabilityZone": "eu-central-1a", "kind": "power", "duration": "PT10M"}}}
    with harness(tmp_path, resources={"G": [group]}, create=real) as h:
        h.ctx.resources["_autoscaling"] = fake
        h.ctx.resources["_zones"] = fake
        run = h.start(definition(actions, targets))
        until(lambda: all(a.status == "running" for a in run.actions.values()))
        assert len(fake.active) == 2
        h.executor.stop(run.id)
        until(lambda: run.terminal)
        assert fake.active == set()
        assert ("capacity", (["nat"], ["eu-central-1a", "eu-central-1b"], 100,
                             f"fis:{run.id}:Ice")) in fake.calls
        assert "stay dead" in run.actions["Dark"].reason  # what power loss cannot undo


def _process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@dataclass
class FakeRecord:
    pid: int | None

    @dataclass
    class _Placement:
        az: str | None = "eu-central-1a"

    placement: _Placement = field(default_factory=_Placement)


class FakeRuntime:
    def __init__(self, records: dict[str, FakeRecord]) -> None:
        self.records = records

    def find(self, task: str) -> FakeRecord | None:
        return self.records.get(task.rsplit("/", 1)[-1])


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_frozen_task_processes_continue_when_the_experiment_stops(
        tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    task = Resource("arn:aws:ecs:eu-central-1:1:task/c/abc", "aws:ecs:task", "abc")
    targets = {"T": {"resourceType": "aws:ecs:task", "parameters": {"cluster": "c"},
                     "selectionMode": "ALL"}}
    action = {"actionId": "tradai:process:freeze", "targets": {"Tasks": "T"},
              "parameters": {"duration": "PT10M"}}
    ecs = type("Ecs", (), {"runtime": FakeRuntime({"abc": FakeRecord(sleeper.pid)})})()
    with harness(tmp_path, resources={"T": [task]}, create=real) as h:
        h.ctx.resources["_ecs"] = ecs
        run_and_stop(h, definition({"Freeze": action}, targets), "Freeze",
                     lambda: until(lambda: _process_state(sleeper.pid) == "T"))
        assert _process_state(sleeper.pid) in ("S", "R")


def _mlflow_store(tmp_path: Path) -> Path:
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE experiments (id INTEGER)")
    return db


def _readable(db: Path) -> bool:
    try:
        with sqlite3.connect(db, timeout=0.05) as conn:
            conn.execute("SELECT count(*) FROM experiments").fetchone()
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False


def test_mlflow_database_lock_is_released_when_the_experiment_stops(tmp_path: Path) -> None:
    db = _mlflow_store(tmp_path)
    action = {"actionId": "tradai:mlflow:database-down", "parameters": {"duration": "PT10M"}}
    with harness(tmp_path, create=real) as h:
        h.ctx.resources["service_env"] = {"mlflow": {"TRADAI_MLFLOW_DATA_DIR": str(tmp_path)}}
        assert _readable(db)
        run_and_stop(h, definition({"Down": action}), "Down", lambda: not _readable(db))
        assert _readable(db)


def test_mlflow_database_down_fails_clearly_for_a_postgresql_store(tmp_path: Path) -> None:
    action = {"actionId": "tradai:mlflow:database-down", "parameters": {"duration": "PT1M"}}
    with harness(tmp_path, create=real) as h:
        h.ctx.resources["service_env"] = {"mlflow": {
            "TRADAI_MLFLOW_DATA_DIR": str(tmp_path),
            "TRADAI_MLFLOW_DATABASE_SECRET": "tradai-local-db"}}
        run = h.start(definition({"Down": action}))
        until(lambda: run.terminal)
        assert run.status == "failed" and "PostgreSQL" in run.actions["Down"].reason


class ExchangeStub(BaseHTTPRequestHandler):
    state: dict[str, Any] = {}
    posts: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        self._answer(ExchangeStub.state)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ExchangeStub.posts.append(body)
        ExchangeStub.state.update(body)
        self._answer(ExchangeStub.state)

    def _answer(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def exchange() -> Iterator[str]:
    ExchangeStub.state = {"latency_ms": 5, "outage": False, "outage_mode": "503",
                          "retry_after": None}
    ExchangeStub.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ExchangeStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(("action_id", "params", "during"), [
    ("tradai:exchange:outage", {"mode": "close"}, {"outage": True, "outage_mode": "close"}),
    ("tradai:exchange:latency", {"latencyMs": "3000"}, {"latency_ms": 3000}),
    ("tradai:exchange:throttle", {"retryAfter": "30"},
     {"force_429_for_seconds": 600.0, "retry_after": 30}),
])
def test_exchange_faults_are_put_back_as_they_were_on_stop(
        tmp_path: Path, exchange: str, action_id: str, params: dict[str, str],
        during: dict[str, Any]) -> None:
    action = {"actionId": action_id, "parameters": {"duration": "PT10M", **params}}
    with harness(tmp_path, create=real) as h:
        h.ctx.resources["_exchange"] = {"url": exchange}
        run_and_stop(h, definition({"X": action}), "X")
        assert ExchangeStub.posts[0] == during
        restored = ExchangeStub.posts[1]
        for key in restored:
            assert restored[key] == {"force_429_for_seconds": 0}.get(
                key, {"latency_ms": 5, "outage": False, "outage_mode": "503",
                      "retry_after": None}.get(key)), key


def test_api_error_rule_is_removed_when_the_experiment_stops(tmp_path: Path) -> None:
    role = Resource("arn:aws:iam::123456789012:role/r", "aws:iam:role", "r")
    targets = {"R": {"resourceType": "aws:iam:role", "resourceArns": [role.arn],
                     "selectionMode": "ALL"}}
    action = {"actionId": "aws:fis:inject-api-throttle-error", "targets": {"Roles": "R"},
              "parameters": {"service": "ec2", "operations": "ReplaceRoute",
                             "percentage": "100", "duration": "PT10M"}}
    with harness(tmp_path, resources={"R": [role]}, create=real) as h:
        run_and_stop(h, definition({"Api": action}, targets), "Api",
                     lambda: h.api_faults.roles() == {role.arn})
        assert not h.api_faults.active()
