"""``tradai-sim`` as a user runs it: up, status, token, down, and clear errors on bad input."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cloud import free_port
from tradai.topology import default_topology
from tradai_sim.stack.state import StackRecord, pid_alive


def sim(*args: str, check: bool = False, timeout: float = 180
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "tradai_sim.cli", *args],
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture()
def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    state = tmp_path / "state"
    yield state, port
    sim("down", "--state-dir", str(state))


@pytest.mark.timeout(720)  # `up` waits for every service and the examples (its own 540 s cap)
def test_up_status_token_down_lifecycle(stack: tuple[Path, int]) -> None:
    state, port = stack
    up = sim("up", "--detach", "--state-dir", str(state), "--port", str(port),
             "--wait-timeout", "540", check=True, timeout=600)
    assert "ready in" in up.stderr
    rec = StackRecord.read(state)
    assert rec is not None and pid_alive(rec.pid)
    # `up` waited until the platform is usable, and said how long each part took
    for part in ("backend-api", "data-collection", "strategy-service", "mlflow",
                 "example strategies"):
        assert f"ok {part} (" in up.stderr, up.stderr

    status = json.loads(sim("status", "--json", "--state-dir", str(state), check=True).stdout)
    assert [c["component"] for c in status["usable"] if not c["ready"]] == []
    assert "usable" in sim("status", "--state-dir", str(state), check=True).stdout
    assert status["region"] == "eu-central-1"
    assert status["endpoints"]["aws"] == f"http://127.0.0.1:{port}"
    assert {"gateway", "exchange", "mlflow"} <= status["endpoints"].keys()
    assert status["processes"][0]["pid"] == rec.pid
    assert status["resources"]["sqs:queue"] == 4
    spec = default_topology()
    assert status["resources"]["dynamodb:table"] == len(spec.tables)
    # Written out, not recomputed with the code's own check: the model lifecycle issue
    # supplied the last handlers.
    assert status["not_implemented"]["lambdas"] == []

    again = sim("up", "--detach", "--state-dir", str(state), "--port", str(port), check=True)
    assert "nothing changed" in again.stderr
    assert StackRecord.read(state).pid == rec.pid  # type: ignore[union-attr]

    token = sim("token", "--state-dir", str(state), check=True).stdout.strip()
    assert token.count(".") == 2  # a JWT
    # The default dev user has the README's roles; each role has its own dev user.
    assert sorted(_claims(token)["cognito:groups"]) == sorted(spec.edge.dev_user_roles)
    subs = {_claims(token)["sub"]}
    for role in (r.name for r in spec.edge.roles):
        claims = _claims(sim("token", "--role", role, "--state-dir", str(state),
                             check=True).stdout.strip())
        assert claims["cognito:groups"] == [role]
        subs.add(claims["sub"])
    assert len(subs) == 1 + len(spec.edge.roles)  # a user of its own per role
    bad = sim("token", "--role", "admin", "--state-dir", str(state))
    assert bad.returncode == 1 and "no dev user for role 'admin'" in bad.stderr
    assert "operator" in bad.stderr

    logs = sim("logs", "--state-dir", str(state), check=True).stdout.split()
    assert "cloud" in logs
    assert "ready in" in sim("logs", "cloud", "-n", "100000", "--state-dir", str(state),
                          check=True).stdout

    sim("down", "--state-dir", str(state), check=True)
    assert not pid_alive(rec.pid)
    assert not listening(port)
    second = sim("down", "--state-dir", str(state), check=True)
    assert "nothing to stop" in second.stderr


def _claims(token: str) -> dict[str, Any]:
    import jwt
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_port_already_taken(stack: tuple[Path, int]) -> None:
    state, _ = stack
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        res = sim("up", "--detach", "--state-dir", str(state), "--port", str(taken))
    assert res.returncode == 1
    assert f"port {taken} is already in use" in res.stderr
    assert StackRecord.read(state) is None  # nothing started


def test_state_dir_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = sim("up", "--detach", "--state-dir", str(blocker / "state"), "--port",
              str(free_port()))
    assert res.returncode == 1
    assert "is not writable" in res.stderr and "--state-dir" in res.stderr


def test_unknown_option() -> None:
    res = sim("up", "--bogus")
    assert res.returncode == 2
    assert "No such option '--bogus'" in res.stderr


def test_invalid_spec(tmp_path: Path, stack: tuple[Path, int]) -> None:
    state, port = stack
    bad = tmp_path / "spec.yaml"
    bad.write_text("project: tradai\nregion: eu-central-1\n")
    res = sim("up", "--detach", "--state-dir", str(state), "--port", str(port),
              "--spec", str(bad))
    assert res.returncode == 1
    assert "invalid topology spec" in res.stderr and "network" in res.stderr
    assert not listening(port)


def test_second_up_while_half_started(stack: tuple[Path, int]) -> None:
    state, port = stack
    state.mkdir(parents=True)
    # A live process that never becomes ready stands in for a stuck start.
    stuck = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    try:
        StackRecord(stuck.pid, port, f"http://127.0.0.1:{port}", 20.0, 0.0).write(state)
        res = sim("up", "--detach", "--state-dir", str(state), "--port", str(port))
        assert res.returncode == 1
        assert "half-started" in res.stderr and "tradai-sim down" in res.stderr
        sim("down", "--state-dir", str(state), check=True)
        assert stuck.wait(timeout=10) != 0  # down stopped it
    finally:
        if stuck.poll() is None:
            stuck.kill()
            stuck.wait()
