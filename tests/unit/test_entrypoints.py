"""Every service and task definition of the spec runs ``python -m <entrypoint>``: that module
must exist (a package needs its ``__main__``), or ECS starts a container that exits at once."""

from __future__ import annotations

import importlib.util

from tradai.topology import default_topology
from tradai.topology.model import Topology


def missing_entrypoints(topo: Topology) -> list[str]:
    """``<component>: <entrypoint>`` for each one ``python -m`` could not run."""
    out = []
    for name, entry in ([(s.name, s.entrypoint) for s in topo.services]
                        + [(t.name, t.entrypoint) for t in topo.task_definitions]):
        try:
            spec = importlib.util.find_spec(entry)
            if spec is not None and spec.submodule_search_locations is not None:
                spec = importlib.util.find_spec(f"{entry}.__main__")  # python -m <package>
        except ModuleNotFoundError:  # a parent package is missing
            spec = None
        if spec is None:
            out.append(f"{name}: {entry}")
    return out


def test_every_service_and_task_entrypoint_exists() -> None:
    topo = default_topology()
    assert {t.name for t in topo.task_definitions} >= {"strategy", "strategy-service-task"}
    assert missing_entrypoints(topo) == []


def test_a_missing_entrypoint_is_named() -> None:
    topo = default_topology()
    tasks = [t.model_copy(update={"entrypoint": "tradai.services.no_such.task"})
             if t.name == "strategy-service-task" else t for t in topo.task_definitions]
    services = [s.model_copy(update={"entrypoint": "tradai.services"})  # a package, no __main__
                if s.name == "backend-api" else s for s in topo.services]
    bad = topo.model_copy(update={"task_definitions": tasks, "services": services})
    assert missing_entrypoints(bad) == ["backend-api: tradai.services",
                                        "strategy-service-task: tradai.services.no_such.task"]
