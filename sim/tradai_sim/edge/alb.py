"""The ALB stand-in: one process, several listeners.

* the main listener (``endpoints.alb``) with the spec's rules: ``/api/v1/*`` -> backend-api,
  ``/mlflow/*`` -> mlflow (prefix removed: in AWS the API Gateway integration's path mapping
  does that, an ALB cannot rewrite paths);
* one listener per service, the Cloud Map stand-in: ``TRADAI_<SERVICE>_URL`` in task
  environments points at these, so services find each other's healthy tasks by a stable URL.

Targets come from ECS (polled every ``poll_wall_seconds``), get health-checked on the shared
clock, and only healthy ones receive traffic, round robin. A service with ELBv2 target groups
(CreateService's ``loadBalancers``) is checked with its target group's health check; a
load-balanced ECS service the config does not name (no listener rule) is still health-checked
and shown, keyed by its ECS service name, as its target group's health is what the ECS service
scheduler acts on. A task ECS deregisters (DEACTIVATING) is ``draining``: no new requests.
A refused connection is retried once on another healthy target (the request was never
delivered, so even a POST is safe).
``GET /_alb/targets`` on the main listener is the stand-in's describe-target-health.
``python -m tradai_sim.edge.alb --config alb.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import uvicorn
from botocore.config import Config
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tradai.clock import Clock, default_clock
from tradai_sim.edge import proxy, upstream
from tradai_sim.edge.discovery import (
    deactivating,
    load_balanced_services,
    running_targets,
    target_group_health,
)
from tradai_sim.edge.targets import HealthSettings, Target, TargetGroup

log = logging.getLogger("tradai_sim.edge.alb")
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ServiceTargets(BaseModel):
    ecs_service: str
    health_path: str = "/health"


class Rule(BaseModel):
    prefix: str
    service: str
    strip_prefix: bool = False

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix.rstrip("/") + "/")


class AlbConfig(BaseModel):
    host: str = "127.0.0.1"
    main_port: int
    discovery_ports: dict[str, int] = Field(default_factory=dict)  # service -> port
    cluster: str
    region: str
    aws_endpoint: str | None = None
    services: dict[str, ServiceTargets]
    rules: list[Rule]
    health: dict[str, float] = Field(default_factory=dict)
    poll_wall_seconds: float = 1.0  # how soon a new or deregistering task is seen
    timeout_seconds: float = 60.0  # the ALB's idle timeout


class Alb:
    def __init__(self, config: AlbConfig, clock: Clock | None = None,
                 ecs: Any | None = None, elbv2: Any | None = None) -> None:
        self.config = config
        self.clock = clock or default_clock()
        health = HealthSettings(**config.health)  # type: ignore[arg-type]
        self.groups = {name: TargetGroup(name, s.health_path, health)
                       for name, s in config.services.items()}
        self.listeners = {port: name for name, port in config.discovery_ports.items()}
        self.ecs = ecs or self._client("ecs")
        self.elbv2 = elbv2 or self._client("elbv2")
        # Load-balanced ECS services the config does not name: health-checked, not routed.
        self.unrouted: dict[str, TargetGroup] = {}
        self.client: upstream.Pool | None = None  # traffic
        # Health checks keep an httpx client of their own: a few requests a second, and
        # their connections to every target stay out of the traffic pool.
        self.health_client: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.app = proxy.lifespan_app(self.handle, self.startup, self.shutdown)

    def _client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.config.region,
                            endpoint_url=self.config.aws_endpoint,
                            config=Config(retries={"max_attempts": 2}))

    def all_groups(self) -> dict[str, TargetGroup]:
        return {**self.unrouted, **self.groups}

    # -- lifecycle ------------------------------------------------------------------------------
    async def startup(self) -> None:
        self.client = upstream.Pool(self.config.timeout_seconds)
        self.health_client = proxy.client(self.config.timeout_seconds)
        self._tasks = [asyncio.create_task(self._discover_loop()),
                       asyncio.create_task(self._health_loop())]

    async def shutdown(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.client:
            await self.client.aclose()
        if self.health_client:
            await self.health_client.aclose()

    # -- target registration and health ---------------------------------------------------------
    async def _discover_loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.discover)
            except Exception as exc:  # the emulator may be busy; keep the last known targets
                log.warning("target discovery failed: %s", exc)
            await asyncio.sleep(self.config.poll_wall_seconds)

    def discover(self) -> None:
        """One pass of target registration: target groups and their health checks, RUNNING
        tasks as targets, deregistering tasks as draining targets."""
        cluster = self.config.cluster
        balanced = load_balanced_services(self.ecs, cluster)
        found = running_targets(self.ecs, cluster)
        health = target_group_health(self.elbv2, sorted({a for v in balanced.values()
                                                         for a in v}))
        by_service = {s.ecs_service: name for name, s in self.config.services.items()}
        for ecs_name in list(self.unrouted):
            if ecs_name not in balanced:
                del self.unrouted[ecs_name]  # the service is gone
        for ecs_name, arns in balanced.items():
            arn = next((a for a in arns if a in health), None)
            if arn is None:
                continue
            _, path, settings = health[arn]
            name = by_service.get(ecs_name)
            group = (self.groups[name] if name is not None else
                     self.unrouted.setdefault(ecs_name, TargetGroup(ecs_name, path)))
            group.arn, group.health_path, group.settings = arn, path, settings
        groups = [(g, found.get(self.config.services[n].ecs_service, []))
                  for n, g in self.groups.items()]
        groups += [(g, found.get(n, [])) for n, g in self.unrouted.items()]
        gone = sorted({t for g, now in groups for t in g.targets.keys() -
                       {x.task_id for x in now}})
        draining = deactivating(self.ecs, cluster, gone) if gone else set()
        for group, now in groups:
            group.sync(now, draining)

    async def _health_loop(self) -> None:
        tick = min(0.2, self.config.poll_wall_seconds)
        while True:
            now = time.time()
            due = [(g, t) for g in self.all_groups().values() for t in g.checked()
                   if t.due <= now]
            for g, t in due:
                t.due = now + self.clock.to_wall(g.settings.interval)
            if due:
                await asyncio.gather(*(self._check(g, t) for g, t in due))
            await asyncio.sleep(tick)

    async def _check(self, group: TargetGroup, target: Target) -> None:
        assert self.health_client is not None
        timeout = group.settings.timeout  # wall seconds: it bounds the target's answer
        try:
            resp = await self.health_client.get(target.url + group.health_path, timeout=timeout)
            ok = group.settings.passes(resp.status_code)
            reason = f"health check {resp.status_code}"
        except httpx.TimeoutException:
            ok, reason = False, "health check timed out"
        except httpx.HTTPError as exc:
            ok, reason = False, f"health check failed: {type(exc).__name__}"
        group.record_check(target, ok, reason)

    # -- traffic --------------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        port = request.scope.get("server", (None, None))[1]
        path = request.url.path
        service = self.listeners.get(port)
        if service is None:  # the main listener
            if path == "/_alb/targets":
                return JSONResponse({n: g.status() for n, g in self.all_groups().items()})
            rule = next((r for r in self.config.rules if r.matches(path)), None)
            if rule is None:
                return proxy.error(404, "Not Found", f"no listener rule matches {path}")
            service = rule.service
            if rule.strip_prefix:
                path = path[len(rule.prefix.rstrip("/")):] or "/"
        return await self._forward(request, self.groups[service], path)

    async def _forward(self, request: Request, group: TargetGroup, path: str) -> Response:
        assert self.client is not None
        try:
            body = await proxy.read_body(request)
        except proxy.BodyTooLarge:
            return proxy.error(413, "Request Entity Too Large", "body over 10 MB")
        tried: set[str] = set()
        for _ in range(2):  # the first target, and one retry on another
            target = group.pick(exclude=tried)
            if target is None:
                break
            tried.add(target.task_id)
            try:
                answer = await proxy.send(self.client, request, target.url + path, body,
                                          "tradai-alb")
                return await proxy.passthrough(answer)  # a small body is read here
            except upstream.ConnectFailed as exc:
                group.mark_down(target, f"connection refused ({exc})")
                continue
            except upstream.ConnectionLost as exc:
                # a pooled connection to a task that just died; only safe to resend if
                # the method is idempotent
                group.mark_down(target, f"connection lost ({exc})")
                if request.method in IDEMPOTENT:
                    continue
                return proxy.upstream_failure(exc, f"target {target.task_id[:12]}")
            except upstream.UpstreamError as exc:
                return proxy.upstream_failure(exc, f"target {target.task_id[:12]}")
        if tried:
            return proxy.error(502, "Bad Gateway", f"targets of {group.name} refused the "
                                                   f"connection; {group.unavailable_reason()}")
        return proxy.error(503, "Service Unavailable", group.unavailable_reason())


def bind(host: str, port: int) -> socket.socket:
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP; without it Nagle + delayed ACK add ~40 ms to every answer.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="tradai-alb")
    ap.add_argument("--config", required=True, type=Path)
    args = ap.parse_args(argv)
    config = AlbConfig.model_validate(json.loads(args.config.read_text()))
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    alb = Alb(config)
    sockets = [bind(config.host, config.main_port)]
    sockets += [bind(config.host, p) for p in config.discovery_ports.values()]
    server = uvicorn.Server(uvicorn.Config(alb.app, access_log=False, log_level="warning",
                                           lifespan="on"))
    asyncio.run(server.serve(sockets=sockets))


if __name__ == "__main__":
    main()
