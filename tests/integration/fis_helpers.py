"""Helpers for the FIS integration tests: run a template as an experiment in a running cloud,
wait for its states, start a cloud of one's own from a spec."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.integration.cloud import RunningCloud, free_port, wait_for
from tradai.faults import RenderContext, validate_template
from tradai.faults.templates import default_directory, load_templates

TERMINAL = ("completed", "stopped", "failed")


def render_context(cloud: RunningCloud) -> RenderContext:
    info = cloud.status()["resources"]["fis"]
    return RenderContext(info["project"], info["env"], info["region"], info["account"])


def shipped(cloud: RunningCloud, name: str) -> dict[str, Any]:
    body = load_templates(default_directory())[name].render(render_context(cloud))
    assert validate_template(body) == []
    return body


def template_body(cloud: RunningCloud, actions: dict[str, Any],
                  targets: dict[str, Any] | None = None,
                  stop: list[dict[str, Any]] | None = None, **options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "integration test", "roleArn": render_context(cloud).fis_role_arn,
        "targets": targets or {}, "actions": actions,
        "stopConditions": stop or [{"source": "none"}]}
    if options:
        body["experimentOptions"] = options
    return body


def start(cloud: RunningCloud, body: dict[str, Any], seed: int = 1) -> str:
    fis = cloud.client("fis")
    fields = {k: v for k, v in body.items() if k != "tags"}
    template_id = fis.create_experiment_template(**fields)["experimentTemplate"]["id"]
    return str(fis.start_experiment(experimentTemplateId=template_id,
                                    tags={"tradai:seed": str(seed)})["experiment"]["id"])


def experiment(cloud: RunningCloud, experiment_id: str) -> dict[str, Any]:
    return dict(cloud.client("fis").get_experiment(id=experiment_id)["experiment"])


def wait_until(cloud: RunningCloud, experiment_id: str, status: str | tuple[str, ...],
               action: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """The experiment once it (or one of its actions) is in ``status``."""
    wanted = (status,) if isinstance(status, str) else status

    def reached() -> dict[str, Any] | None:
        e = experiment(cloud, experiment_id)
        state = e["actions"][action]["state"] if action else e["state"]
        if state["status"] in wanted:
            return e
        if action is None and e["state"]["status"] in TERMINAL:
            raise AssertionError(f"experiment ended {e['state']}, waiting for {wanted}")
        return None

    return dict(wait_for(reached, timeout=timeout, interval=0.2))


def history(cloud: RunningCloud, experiment_id: str) -> dict[str, Any]:
    r = requests.get(f"{cloud.endpoint}/_sim/fis/experiments", params={"id": experiment_id},
                     timeout=10)
    r.raise_for_status()
    [found] = r.json()["experiments"]
    return dict(found)


def spec_without_services(directory: Path) -> Path:
    """The stack's spec without ECS services (and what refers to them): a cloud that starts
    in seconds, for experiments that disrupt what the session's cloud shares."""
    from importlib import resources

    from tradai.topology.load import DEFAULT_SPEC, load_topology

    text = resources.files("tradai.topology").joinpath(DEFAULT_SPEC).read_text()
    spec = yaml.safe_load(text)
    spec["services"] = []
    spec["edge"]["routes"] = []
    spec["alarms"] = [a for a in spec["alarms"] if "target_group" not in a]
    path = directory / "topology-no-services.yaml"
    path.write_text(yaml.safe_dump(spec))
    load_topology(str(path))  # fails here, clearly, if the spec grew new references
    return path


def start_cloud_with_spec(state_dir: Path, spec: Path, time_scale: float = 20.0,
                          timeout: float = 90.0) -> RunningCloud:
    port = free_port()
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    with open(state_dir / "logs" / "cloud.stderr", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tradai_sim.cloud.main", "--state-dir", str(state_dir),
             "--port", str(port), "--time-scale", str(time_scale), "--spec", str(spec)],
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    cloud = RunningCloud(f"http://127.0.0.1:{port}", state_dir, proc, time_scale)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            cloud.stop()
            raise RuntimeError("cloud exited: " + (state_dir / "progress.log").read_text())
        try:
            if requests.get(f"{cloud.endpoint}/_sim/health", timeout=1).json().get("ready"):
                return cloud
        except requests.RequestException:
            pass
        time.sleep(0.2)
    cloud.stop()
    raise RuntimeError("cloud not ready in time")


def dump(e: dict[str, Any]) -> str:
    return json.dumps({"state": e["state"], "actions": {n: a["state"] for n, a in
                                                        e["actions"].items()}})
