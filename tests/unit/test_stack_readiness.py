"""What `tradai-sim up` waits for and `status` shows: each service running (healthy behind the
ALB where load-balanced) and the examples registered."""

from __future__ import annotations

from typing import Any

from tradai_sim.stack import readiness


def _task(service: str, n: int, status: str = "RUNNING") -> dict[str, Any]:
    return {"group": f"service:tradai-local-{service}", "last_status": status,
            "desired_status": "RUNNING", "task_arn": f"arn:aws:ecs:x:1:task/c/{service}{n}"}


def _status(tasks: list[dict[str, Any]], healthy: dict[str, list[str]],
            seed: dict[str, Any]) -> dict[str, Any]:
    targets = {svc: [{"task_id": t, "state": "healthy"} for t in ids]
               for svc, ids in healthy.items()}
    return {"parts": {"ecs": {"tasks": tasks}, "edge": {"targets": targets}, "seed": seed}}


ALL = [_task(s, 0) for s in readiness.SERVICES]
HEALTHY = {"backend-api": ["backend-api0"], "mlflow": ["mlflow0"]}


def test_usable_when_every_service_runs_healthy_and_the_examples_are_registered() -> None:
    parts = readiness.components(_status(ALL, HEALTHY, {"state": "done",
                                                        "registered": ["A", "B"]}))
    assert [(c.name, c.ready) for c in parts] == [
        *[(s, True) for s in readiness.SERVICES], ("example strategies", True)]
    assert parts[-1].detail == "2 registered"


def test_a_load_balanced_service_running_but_not_yet_healthy_is_still_starting() -> None:
    parts = readiness.components(_status(ALL, {"backend-api": ["backend-api0"]},
                                         {"state": "seeding"}))
    pending = {c.name: c.detail for c in parts if not c.ready}
    assert pending == {"mlflow": "1 running, 0 healthy behind the ALB",
                       "example strategies": "seeding"}


def test_a_healthy_target_whose_task_died_does_not_count() -> None:
    tasks = [t for t in ALL if "mlflow" not in t["group"]] + [_task("mlflow", 0, "STOPPED")]
    parts = readiness.components(_status(tasks, HEALTHY, {"state": "done"}))
    assert [c.name for c in parts if not c.ready] == ["mlflow"]


def test_a_failed_seed_is_reported_as_a_failure_not_a_wait() -> None:
    status = _status(ALL, HEALTHY, {"state": "failed", "error": "MLflow refused"})
    assert readiness.failed(status) == ("registering the example strategies failed: "
                                        "MLflow refused")
    assert readiness.failed(_status(ALL, HEALTHY, {"state": "seeding"})) is None


def test_an_alb_that_does_not_answer_leaves_the_targets_empty_not_malformed() -> None:
    """The edge part asks the ALB for its targets with a short timeout; on a busy machine it
    may not answer. `status` walked the targets and crashed on the error put in their place
    (ci65: "string indices must be integers"); the error now sits beside them."""
    import socket
    from types import SimpleNamespace

    from tradai_sim.cloud.edge.config import HOST
    from tradai_sim.cloud.edge.part import EdgePart

    with socket.socket() as s:  # a port nobody listens on
        s.bind((HOST, 0))
        closed = int(s.getsockname()[1])
    ports = SimpleNamespace(alb=closed, url=lambda port: f"http://{HOST}:{port}")
    edge = EdgePart.status(SimpleNamespace(procs={}, ports=ports))  # type: ignore[arg-type]
    assert edge["targets"] == {} and edge["targets_error"] == "ConnectError"
    status = _status(ALL, {}, {"state": "seeding"})
    status["parts"]["edge"] = edge
    pending = {c.name: c.detail for c in readiness.components(status) if not c.ready}
    assert pending["mlflow"] == "1 running, 0 healthy behind the ALB"
