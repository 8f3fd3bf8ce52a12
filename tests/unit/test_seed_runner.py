"""The seed's process is started with the part and prepares while MLflow starts; told where
MLflow is, it only seeds (tradai_sim.cloud.seed.part and .runner)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tradai.registry import seed as platform_seed
from tradai_sim.cloud.seed import part as P
from tradai_sim.cloud.seed import runner as R

# Stands in for the runner: "prepared" at once, then echoes the line it is told.
ECHO = ("import sys, json; print('prepared', file=sys.stderr, flush=True); "
        "go = json.loads(sys.stdin.readline()); "
        "print(json.dumps({'results': [{'told': go}]}))")


class Ctx:
    def __init__(self, tmp: Path) -> None:
        self.log_dir = tmp
        self.resources: dict[str, Any] = {"buckets": {"configs": "cfg-bucket"}}
        self.stopping = threading.Event()
        self.children: list[int] = []
        self.spawned = 0

    def register_child(self, pid: int) -> None:
        self.children.append(pid)

    def publish_endpoint(self, name: str, url: str) -> None:
        self.resources.setdefault("endpoints", {})[name] = url


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    c = Ctx(tmp_path)

    def spawn(_ctx: Any) -> subprocess.Popen[bytes]:
        c.spawned += 1
        proc = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        c.register_child(proc.pid)
        return proc

    monkeypatch.setattr(P, "spawn_runner", spawn)
    return c


def test_the_runner_starts_with_the_part_and_is_told_where_mlflow_is(ctx: Ctx) -> None:
    part = P.SeedPart(ctx)  # type: ignore[arg-type]
    part._thread = threading.Thread(target=lambda: None)  # no MLflow to wait for here
    part.start()
    runner = part._runner
    assert runner is not None and ctx.spawned == 1
    assert runner.stderr is not None and runner.stderr.readline() == b"prepared\n"
    assert runner.poll() is None  # prepared, waiting to be told
    out = part._seed("http://127.0.0.1:5555")
    assert out == [{"told": {"TRADAI_MLFLOW_URL": "http://127.0.0.1:5555",
                             "TRADAI_BUCKET_CONFIGS": "cfg-bucket"}}]
    assert ctx.spawned == 1  # the prepared one did it
    part._seed("http://127.0.0.1:5556")  # a retry: a fresh process
    assert ctx.spawned == 2
    part.stop()


def test_stopping_before_mlflow_answers_kills_the_waiting_runner(ctx: Ctx) -> None:
    part = P.SeedPart(ctx)  # type: ignore[arg-type]
    part._thread = threading.Thread(target=lambda: None)
    part.start()
    runner = part._runner
    assert runner is not None
    part.stop()
    assert runner.poll() is not None


def test_the_runner_seeds_only_once_told(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRADAI_MLFLOW_AUTH", "none")  # no secret to read for this URL
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    for key in ("TRADAI_MLFLOW_URL", "TRADAI_BUCKET_CONFIGS"):
        monkeypatch.delenv(key, raising=False)
    calls: list[tuple[str, str | None, int]] = []

    def fake_seed(adapter: Any, examples: Any) -> list[platform_seed.SeedResult]:
        calls.append((adapter.tracking_uri, adapter.config_store.bucket, len(examples)))
        return [platform_seed.SeedResult("EmaCrossover", 1, registered=True)]

    monkeypatch.setattr(platform_seed, "seed", fake_seed)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert R.main() == R.NOT_STARTED and calls == []  # the part went away: nothing done
    go = {"TRADAI_MLFLOW_URL": "http://127.0.0.1:5555", "TRADAI_BUCKET_CONFIGS": "cfg"}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(go) + "\n"))
    assert R.main() == 0
    assert calls == [("http://127.0.0.1:5555", "cfg", len(platform_seed.load_examples()))]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == {"results": [{"name": "EmaCrossover", "version": 1,
                                             "registered": True}]}


def test_seeding_starts_on_a_healthy_task_and_is_done_once_the_edge_routes(
        ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ALB marks a new target healthy only after its next checks: the seed does not wait
    for them, but ``done`` (and ``mlflow_url``, which clients use) waits for the edge."""
    stable, task = "http://127.0.0.1:7000", "http://127.0.0.1:7001"
    ctx.resources["task_env"] = {"TRADAI_MLFLOW_URL": stable}
    ctx.name = lambda n: f"tradai-local-{n}"  # type: ignore[attr-defined]
    ctx.control_routes = {"/ecs/tasks": lambda body: (200, {"tasks": [  # type: ignore[attr-defined]
        {"group": "service:tradai-local-mlflow", "last_status": "RUNNING", "port": 7001}]})}
    edge_routes = threading.Event()
    monkeypatch.setattr(P, "healthy", lambda url: url == task or edge_routes.is_set())
    monkeypatch.setattr(P, "POLL_SECONDS", 0.01)
    seeded_through: list[str] = []

    def seed(url: str) -> list[dict[str, Any]]:
        seeded_through.append(url)
        assert part.state == "seeding" and part.mlflow_url is None  # the edge is not there yet
        edge_routes.set()
        return [{"name": "EmaCrossover"}]

    part = P.SeedPart(ctx)  # type: ignore[arg-type]
    monkeypatch.setattr(part, "_seed", seed)
    monkeypatch.setattr(part, "_watch", lambda: None)
    part._run()
    assert seeded_through == [task]
    assert part.state == "done" and part.mlflow_url == stable
    assert ctx.resources["endpoints"]["mlflow"] == stable
