"""The edge part: reserves the edge's ports and publishes its URLs before the bootstrap
(``prepare``), then runs the ALB and API gateway stand-ins as processes of their own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any

import httpx

from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.edge.config import (
    HOST,
    EdgePorts,
    alb_config,
    discovery_env,
    gateway_config,
)

PORTS_KEY = "_edge_ports"
MLFLOW_PUBLIC_URL_ENV = "TRADAI_MLFLOW_PUBLIC_URL"  # tradai.strategy_container.settings
START_TIMEOUT = 20.0


def prepare(ctx: CloudContext) -> None:
    ports = EdgePorts.reserve([s.name for s in ctx.topology.services])
    ctx.resources[PORTS_KEY] = ports
    ctx.publish_endpoint("gateway", ports.url(ports.gateway))
    ctx.publish_endpoint("alb", ports.url(ports.alb))
    env = discovery_env(ports)
    # Where users reach MLflow's UI and API: through the gateway (Lambdas build run links).
    env[MLFLOW_PUBLIC_URL_ENV] = ports.url(ports.gateway) + "/mlflow"
    ctx.resources.setdefault("task_env", {}).update(env)


class EdgePart:
    name = "edge"

    def __init__(self, ctx: CloudContext) -> None:
        self.ctx = ctx
        self.ports: EdgePorts = ctx.resources[PORTS_KEY]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        folder = self.ctx.state_dir / "edge"
        folder.mkdir(exist_ok=True)
        for name, config in (("alb", alb_config(self.ctx, self.ports)),
                             ("gateway", gateway_config(self.ctx, self.ports))):
            path = folder / f"{name}.json"
            path.write_text(json.dumps(config, indent=2))
            self.procs[name] = self._spawn(name, path)
        for name, port in (("alb", self.ports.alb), ("gateway", self.ports.gateway)):
            self._wait_listening(name, port)

    def _spawn(self, name: str, config_path: Any) -> subprocess.Popen[bytes]:
        log = (self.ctx.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [self.ctx.python(), "-m", f"tradai_sim.edge.{name}", "--config", str(config_path)],
            env=self.ctx.child_env(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.ctx.register_child(proc.pid)
        return proc

    def _wait_listening(self, name: str, port: int) -> None:
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"edge {name} exited at start; see logs/{name}.log")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError(f"edge {name} not listening on {port} within {START_TIMEOUT} s")

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 5
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.time()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {n: {"pid": p.pid, "alive": p.poll() is None}
                               for n, p in self.procs.items()}
        try:
            out["targets"] = httpx.get(f"{self.ports.url(self.ports.alb)}/_alb/targets",
                                       timeout=0.5).json()
        except (httpx.HTTPError, ValueError) as exc:
            # "targets" keeps its shape (target group -> targets) for the readers that walk it
            out["targets"], out["targets_error"] = {}, type(exc).__name__
        return out


def make_part(ctx: CloudContext, invoker: Any) -> EdgePart:
    return EdgePart(ctx)
