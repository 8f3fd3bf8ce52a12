"""One JSON object describing the running stack (``tradai-sim status --json``)."""

from __future__ import annotations

from typing import Any

import requests

from tradai.topology.model import Topology
from tradai_sim.cloud.bootstrap.handlers import handler_exists, module_exists
from tradai_sim.stack import readiness
from tradai_sim.stack.state import StackRecord, pid_alive


def stack_status(rec: StackRecord, topology: Topology) -> dict[str, Any]:
    cloud = requests.get(f"{rec.endpoint}/_sim/status", timeout=10).json()
    parts = cloud.get("parts", {})
    processes: list[dict[str, Any]] = [{
        "name": "cloud", "kind": "aws-emulator+control-plane", "pid": rec.pid,
        "port": rec.port, "az": None, "health": "healthy" if cloud.get("ready") else "starting",
    }]
    internet = parts.get("internet") or {}
    if internet.get("pid"):
        processes.append({"name": "exchange", "kind": "internet", "pid": internet["pid"],
                          "port": internet.get("port"), "az": None,
                          "health": "healthy" if internet.get("healthy") else "unhealthy"})
    rds = parts.get("rds") or {}
    if rds.get("identifier"):  # the RDS instance (a PostgreSQL server); absent on SQLite
        processes.append({"name": "rds", "kind": f"rds-{rds.get('engine')}",
                          "pid": rds.get("pid"), "port": rds.get("port"), "az": rds.get("az"),
                          "health": "healthy" if rds.get("healthy") else rds.get("state")})
    edge = parts.get("edge") or {}
    for name in ("gateway", "alb"):
        proc = edge.get(name) or {}
        if proc.get("pid"):
            url = (cloud.get("resources", {}).get("endpoints") or {}).get(name) or ""
            processes.append({"name": name, "kind": "edge", "pid": proc["pid"],
                              "port": int(url.rsplit(":", 1)[1]) if ":" in url[6:] else None,
                              "az": None, "health": "up" if proc.get("alive") else "down"})
    # The ALB's view of each task is the health a user cares about.
    target_health = {t["task_id"]: t["state"] for targets in (edge.get("targets") or {}).values()
                     for t in targets}
    prefix = f"service:{topology.project}-"
    for task in parts.get("ecs", {}).get("tasks", []):
        if task.get("last_status") == "STOPPED":
            continue
        group = task.get("group") or ""
        name = group.split("-", 2)[-1] if group.startswith(prefix) else task.get("family")
        task_id = (task.get("task_arn") or "").rsplit("/", 1)[-1]
        processes.append({
            "name": name, "kind": "ecs-task", "pid": task.get("pid"), "port": task.get("port"),
            "az": task.get("az"),
            "health": target_health.get(task_id) or task.get("last_status"),
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
        "usable": [{"component": c.name, "ready": c.ready, "detail": c.detail}
                   for c in readiness.components(cloud)],
        "time_model": cloud.get("resources", {}).get("time_model", []),
        "control_plane": parts,
        "cloud_alive": pid_alive(rec.pid),
    }


def not_implemented(topology: Topology) -> dict[str, list[str]]:
    """Spec entries whose code does not exist yet (no placeholders stand in for them)."""
    return {
        "lambdas": [fn.name for fn in topology.lambdas if not handler_exists(fn.handler)],
        "services": [s.name for s in topology.services if not module_exists(s.entrypoint)],
        "task_definitions": [t.name for t in topology.task_definitions
                             if not module_exists(t.entrypoint)],
    }
