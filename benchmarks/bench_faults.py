"""Figures for the control plane that can fail: a NAT failover from termination to working
egress, an AZ power outage to every service healthy again (and back after restore), and one
FIS experiment with three actions. Wall time and the simulated time it represents.

    .venv/bin/python benchmarks/bench_faults.py [--time-scale 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from common import free_port

from tradai_sim.stack import launcher

SERVICES = ("backend-api", "data-collection", "strategy-service", "mlflow")


class Stack:
    def __init__(self, endpoint: str, scale: float) -> None:
        self.endpoint = endpoint
        self.scale = scale

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="eu-central-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 2}))

    def get(self, path: str) -> Any:
        return requests.get(f"{self.endpoint}/_sim{path}", timeout=30).json()

    def now(self) -> float:
        return float(self.get("/status")["simulated_now"])

    def private_egress_works(self) -> bool:
        subnets = self.get("/network")["subnets"]
        return all(s["egress"].get("works") for s in subnets if s["tier"] == "private")

    def services_healthy(self) -> bool:
        status = self.get("/status")
        tasks = status["parts"]["ecs"]["tasks"]
        groups = {t["group"] for t in tasks if t["last_status"] == "RUNNING"}
        if not all(f"service:tradai-local-{s}" in groups for s in SERVICES):
            return False
        targets = status["parts"]["edge"].get("targets") or {}
        return all(any(t["state"] == "healthy" for t in targets.get(s, []))
                   for s in ("backend-api", "mlflow"))


def until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(interval)


def timed(stack: Stack, act: Callable[[], Any], done: Callable[[], bool],
          timeout: float) -> dict[str, float]:
    sim0, wall0 = stack.now(), time.perf_counter()
    act()
    until(done, timeout)
    wall = time.perf_counter() - wall0
    return {"wall_s": round(wall, 2), "simulated_s": round(stack.now() - sim0, 1)}


def nat_failover(stack: Stack) -> dict[str, float]:
    ec2, asg = stack.client("ec2"), stack.client("autoscaling")
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["tradai-local-nat-asg"])
    old = group["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    until(stack.private_egress_works, 60)

    def terminate() -> None:
        ec2.terminate_instances(InstanceIds=[old])
        until(lambda: not stack.private_egress_works(), 30, 0.05)  # it did break egress

    return timed(stack, terminate, stack.private_egress_works, 300)


def az_outage(stack: Stack) -> tuple[dict[str, float], dict[str, float]]:
    until(stack.services_healthy, 180)
    outage: dict[str, Any] = {}

    def power_off() -> None:
        outage.update(requests.post(f"{stack.endpoint}/_sim/zones", json={
            "az": "eu-central-1a", "kind": "power"}, timeout=30).json())
        until(lambda: not stack.services_healthy(), 30, 0.05)  # it did take something down

    down = timed(stack, power_off, stack.services_healthy, 300)
    back = timed(stack, lambda: requests.delete(f"{stack.endpoint}/_sim/zones",
                                                params={"id": outage["id"]}, timeout=30),
                 stack.services_healthy, 300)
    return down, back


def fis_experiment(stack: Stack) -> dict[str, float]:
    """Three actions in a chain: wait, stop one backend-api task, wait."""
    fis = stack.client("fis")
    cluster = "tradai-local-strategies"
    template = fis.create_experiment_template(
        description="bench: three actions",
        roleArn="arn:aws:iam::123456789012:role/tradai-local-fis",
        stopConditions=[{"source": "none"}],
        targets={"Tasks": {"resourceType": "aws:ecs:task", "selectionMode": "COUNT(1)",
                           "parameters": {"cluster": cluster,
                                          "service": "tradai-local-backend-api"}}},
        actions={
            "First": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"}},
            "Stop": {"actionId": "aws:ecs:stop-task", "targets": {"Tasks": "Tasks"},
                     "startAfter": ["First"]},
            "Then": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1M"},
                     "startAfter": ["Stop"]},
        })["experimentTemplate"]
    exp: dict[str, Any] = {}

    def start() -> None:
        exp.update(fis.start_experiment(experimentTemplateId=template["id"])["experiment"])

    def ended() -> bool:
        state = fis.get_experiment(id=exp["id"])["experiment"]["state"]["status"]
        if state in ("failed", "stopped"):
            raise RuntimeError(f"experiment {state}")
        return state == "completed"

    return timed(stack, start, ended, 120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-scale", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "stack"
        started = time.perf_counter()
        rec = launcher.start(state, free_port(), args.time_scale)
        stack = Stack(rec.endpoint, args.time_scale)
        try:
            print(f"stack ready in {time.perf_counter() - started:.1f} s "
                  f"(time scale {args.time_scale:g}x)")
            figures: dict[str, Any] = {"nat_failover": nat_failover(stack)}
            print(f"NAT failover, termination to working egress: {figures['nat_failover']}")
            figures["fis_three_actions"] = fis_experiment(stack)
            print(f"FIS experiment, three actions (wait 1 min, stop task, wait 1 min): "
                  f"{figures['fis_three_actions']}")
            down, back = az_outage(stack)
            figures["az_outage"] = {"to_healthy": down, "restore_to_healthy": back}
            print(f"AZ a power outage to all services healthy: {down}")
            print(f"AZ a restored to all services healthy: {back}")
            print(json.dumps(figures))
        finally:
            launcher.stop(state)


if __name__ == "__main__":
    main()
