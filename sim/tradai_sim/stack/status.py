"""One JSON object describing the running stack (``tradai-sim status --json``)."""

from __future__ import annotations

from typing import Any

import requests

from tradai.topology.model import Topology
from tradai_sim.cloud.bootstrap.handlers import module_exists
from tradai_sim.stack.state import StackRecord, pid_alive


def stack_status(rec: StackRecord, topology: Topology) -> dict[str, Any]:
    cloud = requests.get(f"{rec.endpoint}/_sim/status", timeout=10).json()
    parts = cloud.get("parts", {})
    processes: list[dict[str, Any]] = [{
        "name": "cloud", "kind": "aws-emulator+control-plane", "pid": rec.pid,
        "port": rec.port, "az": None, "health": "healthy" if cloud.get("ready") else "starting",
    }]
    for task in parts.get("ecs", {}).get("tasks", []):
        if task.get("last_status") == "STOPPED":
            continue
        processes.append({
            "name": task.get("group") or task.get("task_arn"), "kind": "ecs-task",
            "pid": task.get("pid"), "port": task.get("port"), "az": task.get("az"),
            "health": task.get("health") or task.get("last_status"),
        })
    for name, count in parts.get("lambda", {}).get("warm_environments", {}).items():
        processes.append({"name": name, "kind": "lambda-environments", "count": count,
                          "pid": None, "port": None, "az": None, "health": "warm"})
    counts: dict[str, int] = {}
    for key, n in cloud.get("resources_created", {}).items():
        counts[key] = counts.get(key, 0) + n
    endpoints = {"aws": rec.endpoint, "gateway": None, "exchange": None, "mlflow": None}
    endpoints.update(cloud.get("resources", {}).get("endpoints", {}))
    return {
        "region": cloud.get("region"),
        "ready": cloud.get("ready"),
        "ready_seconds": cloud.get("ready_seconds"),
        "time_scale": rec.time_scale,
        "simulated_now": cloud.get("simulated_now"),
        "endpoints": endpoints,
        "processes": processes,
        "resources": counts,
        "not_implemented": not_implemented(topology),
        "scaled_durations": cloud.get("resources", {}).get("scaled_durations", []),
        "control_plane": parts,
        "cloud_alive": pid_alive(rec.pid),
    }


def not_implemented(topology: Topology) -> dict[str, list[str]]:
    """Spec entries whose code does not exist yet (no placeholders stand in for them)."""
    return {
        "lambdas": [fn.name for fn in topology.lambdas if not module_exists(fn.handler)],
        "services": [s.name for s in topology.services if not module_exists(s.entrypoint)],
        "task_definitions": [t.name for t in topology.task_definitions
                             if not module_exists(t.entrypoint)],
    }
