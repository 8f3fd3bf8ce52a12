"""``tradai-sim fault`` against the session's running cloud: list, start (and follow), status,
stop; bad input is one line and exit status 1, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.cloud import RunningCloud, wait_for
from tradai_sim.stack.state import STACK_FILE, StackRecord


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tradai_sim.cli", "fault", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def state_dir(cloud: RunningCloud) -> Iterator[Path]:
    """The session cloud, recorded as ``tradai-sim up`` records a stack."""
    assert cloud.proc is not None
    StackRecord(cloud.proc.pid, int(cloud.endpoint.rsplit(":", 1)[1]), cloud.endpoint,
                cloud.time_scale, time.time()).write(cloud.state_dir)
    yield cloud.state_dir
    (cloud.state_dir / STACK_FILE).unlink(missing_ok=True)


@pytest.fixture()
def templates(tmp_path: Path) -> Path:
    role = "${fis_role_arn}"
    bodies: dict[str, Any] = {
        "quick-outage": {"description": "a short exchange outage", "roleArn": role,
                         "actions": {"Down": {"actionId": "tradai:exchange:outage",
                                              "parameters": {"duration": "PT40S"}}},
                         "stopConditions": [{"source": "none"}]},
        "long-outage": {"description": "a long exchange outage", "roleArn": role,
                        "actions": {"Down": {"actionId": "tradai:exchange:outage",
                                             "parameters": {"duration": "PT30M"}}},
                        "stopConditions": [{"source": "none"}]},
        "long-wait": {"description": "waits half an hour", "roleArn": role,
                      "actions": {"Wait": {"actionId": "aws:fis:wait",
                                           "parameters": {"duration": "PT30M"}}},
                      "stopConditions": [{"source": "none"}]},
        "broken": {"description": "a malformed duration", "roleArn": role,
                   "actions": {"Wait": {"actionId": "aws:fis:wait",
                                        "parameters": {"duration": "two minutes"}}},
                   "stopConditions": [{"source": "none"}]},
    }
    for name, body in bodies.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(body))
    return tmp_path


def _exchange_outage(cloud: RunningCloud) -> bool:
    url = cloud.status()["resources"]["endpoints"]["exchange"]
    return bool(requests.get(f"{url}/_admin/faults", timeout=5).json()["outage"])


def test_fault_list_shows_every_template_with_its_kind() -> None:
    out = sim("list", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert listed["nat-instance-termination"]["kind"] == "aws"
    assert listed["exchange-outage"]["kind"] == "harness"
    assert all(v["description"] for v in listed.values())


def test_fault_start_wait_follows_the_experiment_until_it_completes(
        cloud: RunningCloud, state_dir: Path, templates: Path) -> None:
    out = sim("start", "quick-outage", "--wait", "--dir", str(templates),
              "--state-dir", str(state_dir))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].endswith("quick-outage")
    assert any("Down" in line and "running" in line for line in lines)
    assert "completed: Experiment completed." in lines[-1] or any(
        "(experiment)" in line and "completed" in line for line in lines)
    assert not _exchange_outage(cloud)  # put back at the end


def test_fault_start_status_and_stop(cloud: RunningCloud, state_dir: Path,
                                     templates: Path) -> None:
    out = sim("start", "long-outage", "--dir", str(templates), "--state-dir", str(state_dir))
    assert out.returncode == 0, out.stderr
    exp_id = out.stdout.strip()
    wait_for(lambda: _exchange_outage(cloud), timeout=30)
    status = json.loads(sim("status", exp_id, "--json", "--state-dir", str(state_dir)).stdout)
    assert status["id"] == exp_id and status["actions"]["Down"]["state"]["status"] == "running"
    stopped = sim("stop", exp_id, "--state-dir", str(state_dir))
    assert stopped.returncode == 0 and stopped.stdout.startswith(exp_id)
    wait_for(lambda: json.loads(sim("status", exp_id, "--json", "--state-dir",
                                    str(state_dir)).stdout)["state"]["status"] == "stopped",
             timeout=30)
    assert not _exchange_outage(cloud)
    listed = json.loads(sim("status", "--json", "--state-dir", str(state_dir)).stdout)
    assert exp_id in {e["id"] for e in listed}
    # The emulator's template is the one tagged with the template's name, reused.
    for _ in range(2):
        started = sim("start", "long-wait", "--dir", str(templates), "--state-dir",
                      str(state_dir))
        assert started.returncode == 0, started.stderr
        assert sim("stop", started.stdout.strip(), "--state-dir", str(state_dir)).returncode == 0
    names = [t["tags"].get("Name") for t in cloud.client("fis").list_experiment_templates()[
        "experimentTemplates"]]
    assert names.count("long-wait") == 1


def test_fault_start_of_an_unfinished_experiment_exits_1_when_waiting_ends_stopped(
        state_dir: Path, templates: Path, cloud: RunningCloud) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tradai_sim.cli", "fault", "start",
                             "long-wait", "--wait", "--dir", str(templates), "--state-dir",
                             str(state_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        exp_id = proc.stdout.readline().split()[0]
        wait_for(lambda: cloud.client("fis").get_experiment(id=exp_id)["experiment"]["actions"]
                 ["Wait"]["state"]["status"] == "running", timeout=30)
        assert sim("stop", exp_id, "--state-dir", str(state_dir)).returncode == 0
        assert proc.wait(timeout=60) == 1
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("args", "message"), [
    (["start", "nope"], "error: unknown fault template 'nope'"),
    (["start", "broken"], "error: template 'broken' is invalid: actions.Wait.parameters."
                          "duration: 'two minutes' is not an ISO 8601 duration"),
    (["stop", "no-such-experiment"], "error: ResourceNotFoundException"),
])
def test_bad_input_is_one_line_and_exit_1(state_dir: Path, templates: Path, args: list[str],
                                          message: str) -> None:
    extra = ["--dir", str(templates)] if args[0] == "start" else []
    out = sim(*args, *extra, "--state-dir", str(state_dir))
    assert out.returncode == 1
    assert out.stderr.startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_no_running_stack_is_one_line_and_exit_1(tmp_path: Path) -> None:
    out = sim("start", "exchange-outage", "--state-dir", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.strip() == (f"error: no stack is running in {tmp_path}; start one with "
                                  "`tradai-sim up --detach`")
