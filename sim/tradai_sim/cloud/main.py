"""The cloud process: ``python -m tradai_sim.cloud.main --state-dir DIR --port N``.

Starts the emulator, patches moto where AWS behaviour is missing, creates the spec's resources,
starts the control-plane parts, writes ``cloud.json`` (endpoints, pids, resources) and serves
until SIGTERM, when it stops every part and every process it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tradai.clock import Clock
from tradai.topology import load_topology
from tradai_sim.cloud.context import CloudContext
from tradai_sim.cloud.emulator import (
    EmulatorServer,
    enable_state_machine_execution,
    prepare_moto_environment,
)
from tradai_sim.cloud.parts import Part

log = logging.getLogger("tradai_sim.cloud")

CLOUD_STATE_FILE = "cloud.json"
PROGRESS_FILE = "progress.log"


def build_parts(ctx: CloudContext) -> list[Part]:
    """The control plane, in start order. Later parts may rely on earlier ones."""
    from tradai_sim.cloud.event_sources.sqs import SqsEventSources
    from tradai_sim.cloud.lambda_runtime.invoker import Invoker
    from tradai_sim.cloud.lambda_runtime.moto_adapter import function_config, install_invoker
    from tradai_sim.cloud.lambda_runtime.runtime import LambdaRuntime

    runtime = LambdaRuntime(ctx)

    def resolve(name_or_arn: str) -> Any:
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[ctx.account_id][ctx.region]
        return function_config(backend.get_function(name_or_arn))

    invoker = Invoker(ctx, runtime, resolve)
    install_invoker(invoker)
    ctx.resources["_invoker"] = invoker
    parts: list[Part] = [runtime, invoker, SqsEventSources(ctx, invoker)]
    parts.extend(_optional_parts(ctx, invoker))
    return parts


# Parts that live in their own folders, in start order: "the internet" and RDS before the ECS
# services that reach them, the edge last. Each module exposes ``make_part(ctx, invoker)`` and
# may expose ``prepare(ctx)``, run before the bootstrap (e.g. to publish an endpoint that task
# definitions carry in their environment).
OPTIONAL_PARTS = (
    "tradai_sim.cloud.iam_enforcement.part",  # first: judges the calls of all that follow
    "tradai_sim.cloud.internet.part", "tradai_sim.cloud.network.part",
    "tradai_sim.cloud.zones.part", "tradai_sim.cloud.rds.part", "tradai_sim.cloud.ecs.part",
    "tradai_sim.cloud.scheduler.part", "tradai_sim.cloud.dynamodb_ttl.part",
    "tradai_sim.cloud.autoscaling.part", "tradai_sim.cloud.edge.part",
    "tradai_sim.cloud.seed.part",
    "tradai_sim.cloud.sns_log.part", "tradai_sim.cloud.alarms.part",
    "tradai_sim.cloud.fis.part", "tradai_sim.cloud.sqs_redrive.part",
    "tradai_sim.cloud.sqs_fifo.part",
)


def _optional_modules() -> list[Any]:
    import importlib

    found = []
    for module in OPTIONAL_PARTS:
        try:
            found.append(importlib.import_module(module))
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
    return found


def prepare_parts(ctx: CloudContext) -> None:
    for mod in _optional_modules():
        if hasattr(mod, "prepare"):
            mod.prepare(ctx)


def _optional_parts(ctx: CloudContext, invoker: Any) -> list[Part]:
    return [mod.make_part(ctx, invoker) for mod in _optional_modules()]


class Cloud:
    def __init__(self, ctx: CloudContext, server: EmulatorServer) -> None:
        self.ctx = ctx
        self.server = server
        self.parts: list[Part] = []
        self.started_at = time.time()
        self.ready_at: float | None = None
        self.resources_created: dict[str, int] = {}

    def status(self) -> dict[str, Any]:
        parts = {}
        for p in self.parts:
            try:
                parts[p.name] = p.status()
            except Exception as exc:
                parts[p.name] = {"error": str(exc)}
        return {
            "ready": self.ready_at is not None,
            "pid": os.getpid(),
            "endpoint": self.ctx.endpoint,
            "region": self.ctx.region,
            "time_scale": self.ctx.clock.scale,
            "simulated_now": self.ctx.clock.now(),
            "clock_origin": self.ctx.clock.origin,  # with time_scale: the stack's clock
            "ready_seconds": (self.ready_at - self.started_at) if self.ready_at else None,
            "resources_created": self.resources_created,
            "resources": {k: v for k, v in self.ctx.resources.items() if not k.startswith("_")},
            "parts": parts,
        }

    def stop(self) -> None:
        self.ctx.stopping.set()
        for p in reversed(self.parts):
            try:
                p.stop()
            except Exception:
                log.exception("stopping %s failed", p.name)
        self.server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tradai-sim-cloud")
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--clock-origin", type=float, default=None)
    ap.add_argument("--env", default="local")
    ap.add_argument("--spec", default=None)
    args = ap.parse_args(argv)

    state_dir: Path = args.state_dir
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(state_dir / "logs" / "cloud.log")],
    )
    # One line per emulator request would drown what the control plane has to say.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # parts poll the edge over HTTP
    progress_path = state_dir / PROGRESS_FILE

    def progress(msg: str) -> None:
        with progress_path.open("a") as f:
            f.write(msg + "\n")
        log.info(msg)

    prepare_moto_environment(args.port)
    from tradai_sim.cloud.control_api import ControlApi
    from tradai_sim.cloud.moto_patches import apply_patches
    from tradai_sim.cloud.stepfunctions.waits import install_clock as install_sfn_clock

    clock = Clock(scale=args.time_scale, origin=args.clock_origin or time.time())
    topology = load_topology(args.spec)
    ctx = CloudContext(endpoint=f"http://{args.host}:{args.port}", region=topology.region,
                       env=args.env, clock=clock, state_dir=state_dir, topology=topology)
    progress("starting the AWS emulator")
    apply_patches()
    install_sfn_clock(clock)  # Wait states and Retry intervals wait in simulated time
    enable_state_machine_execution()
    server = EmulatorServer(args.host, args.port, ControlApi(ctx))
    cloud = Cloud(ctx, server)
    stop_requested = threading.Event()
    ctx.control_routes["/health"] = lambda body: (200, {"ready": cloud.ready_at is not None})
    ctx.control_routes["/status"] = lambda body: (200, cloud.status())
    ctx.control_routes["/shutdown"] = lambda body: (stop_requested.set(), (202, {}))[1]
    signal.signal(signal.SIGTERM, lambda *a: stop_requested.set())
    signal.signal(signal.SIGINT, lambda *a: stop_requested.set())
    server.start()

    try:
        from tradai_sim.cloud.bootstrap.resources import Bootstrap

        prepare_parts(ctx)
        boot = Bootstrap(ctx, progress)
        boot.run()
        cloud.resources_created = boot.created
        progress("starting the control plane")
        cloud.parts = build_parts(ctx)
        for part in cloud.parts:
            progress(f"starting {part.name}")
            part.start()
        cloud.ready_at = time.time()
        (state_dir / CLOUD_STATE_FILE).write_text(json.dumps(cloud.status(), default=str))
        progress(f"ready in {cloud.ready_at - cloud.started_at:.1f} s")
    except Exception as exc:
        log.exception("cloud start failed")
        progress(f"FAILED: {type(exc).__name__}: {exc}")
        cloud.stop()
        return 1

    stop_requested.wait()
    progress("stopping")
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
